// Byte offsets of the KVM structures this backend exchanges with the kernel (x86-64, little
// endian, natural alignment), each written once. Source: include/uapi/linux/kvm.h and
// arch/x86/include/uapi/asm/kvm.h.

/** struct kvm_regs: eighteen __u64 in this order. */
export const KVM_REGS = {
  size: 144,
  rax: 0, rbx: 8, rcx: 16, rdx: 24, rsi: 32, rdi: 40, rsp: 48, rbp: 56,
  r8: 64, r9: 72, r10: 80, r11: 88, r12: 96, r13: 104, r14: 112, r15: 120,
  rip: 128, rflags: 136,
} as const;

/** struct kvm_segment: __u64 base, __u32 limit, __u16 selector, then one __u8 per attribute. */
export const KVM_SEGMENT = {
  size: 24,
  base: 0, limit: 8, selector: 12,
  type: 14, present: 15, dpl: 16, db: 17, s: 18, l: 19, g: 20, avl: 21, unusable: 22,
} as const;

/** struct kvm_dtable: __u64 base, __u16 limit, __u16 padding[3]. */
export const KVM_DTABLE = { size: 16, base: 0, limit: 8 } as const;

/** struct kvm_sregs: eight kvm_segment, two kvm_dtable, seven __u64, a 256-bit interrupt bitmap. */
export const KVM_SREGS = {
  size: 312,
  cs: 0, ds: 24, es: 48, fs: 72, gs: 96, ss: 120, tr: 144, ldt: 168,
  gdt: 192, idt: 208,
  cr0: 224, cr2: 232, cr3: 240, cr4: 248, cr8: 256, efer: 264, apic_base: 272,
  interrupt_bitmap: 280,
} as const;

/** struct kvm_run, the page shared with the kernel per vCPU (mmap of the vCPU fd). */
export const KVM_RUN_PAGE = {
  request_interrupt_window: 0,
  immediate_exit: 1,
  exit_reason: 8,
  ready_for_interrupt_injection: 12,
  if_flag: 13,
  flags: 14,
  cr8: 16,
  apic_base: 24,
  /** Start of the exit-reason union; the members below are absolute offsets into the page. */
  exit: 32,
  io_direction: 32, io_size: 33, io_port: 34, io_count: 36, io_data_offset: 40,
  mmio_phys_addr: 32, mmio_data: 40, mmio_len: 48, mmio_is_write: 52,
  fail_entry_hardware_entry_failure_reason: 32, fail_entry_cpu: 40,
  internal_suberror: 32, internal_ndata: 36, internal_data: 40,
  /** internal.emulation_failure overlays data[]: __u64 flags, then __u8 insn_size, __u8 insn_bytes[15]. */
  emulation_failure_insn_size: 48, emulation_failure_insn_bytes: 49,
  ex_exception: 32, ex_error_code: 36,
  hw_hardware_exit_reason: 32,
} as const;

/** kvm_run.internal.data holds at most this many __u64. */
export const KVM_INTERNAL_ERROR_MAX_DATA = 16;
/** internal.suberror of an instruction KVM's emulator could not handle. */
export const KVM_INTERNAL_ERROR_EMULATION = 1;
/** emulation_failure.flags bit: insn_size and insn_bytes are valid. */
export const KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES = 1n;

/** struct kvm_userspace_memory_region. */
export const KVM_USERSPACE_MEMORY_REGION = {
  size: 32, slot: 0, flags: 4, guest_phys_addr: 8, memory_size: 16, userspace_addr: 24,
} as const;

/** struct kvm_msrs header (__u32 nmsrs, __u32 pad) followed by struct kvm_msr_entry[]. */
export const KVM_MSRS = { header: 8, nmsrs: 0 } as const;
/** struct kvm_msr_entry: __u32 index, __u32 reserved, __u64 data. */
export const KVM_MSR_ENTRY = { size: 16, index: 0, data: 8 } as const;

/** struct kvm_cpuid2 header (__u32 nent, __u32 padding) followed by struct kvm_cpuid_entry2[]. */
export const KVM_CPUID2 = { header: 8, nent: 0 } as const;
/** struct kvm_cpuid_entry2: function, index, flags, eax, ebx, ecx, edx, padding[3] (all __u32). */
export const KVM_CPUID_ENTRY2 = { size: 40 } as const;
/** Room first asked of KVM_GET_SUPPORTED_CPUID; it answers E2BIG when a CPU has more leaves. */
export const KVM_MAX_CPUID_ENTRIES = 256;

/** struct kvm_interrupt: __u32 irq. */
export const KVM_INTERRUPT_ARG = { size: 4, irq: 0 } as const;
