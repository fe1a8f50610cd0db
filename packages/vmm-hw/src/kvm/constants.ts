// Numbers from the Linux KVM API (include/uapi/linux/kvm.h, Documentation/virt/kvm/api.rst), x86-64.
// ioctl numbers are _IO/_IOR/_IOW/_IOWR(KVMIO = 0xAE, nr, size) with the struct sizes of layout.ts.

/** The only stable API version; anything else means a kernel we do not know how to talk to. */
export const KVM_API_VERSION = 12;

// System ioctls (on the /dev/kvm descriptor).
export const KVM_GET_API_VERSION = 0xae00;
export const KVM_CREATE_VM = 0xae01;
export const KVM_CHECK_EXTENSION = 0xae03;
export const KVM_GET_VCPU_MMAP_SIZE = 0xae04;
export const KVM_GET_SUPPORTED_CPUID = 0xc008ae05;

// VM ioctls.
export const KVM_CREATE_VCPU = 0xae41;
export const KVM_SET_USER_MEMORY_REGION = 0x4020ae46;
export const KVM_SET_TSS_ADDR = 0xae47;
export const KVM_SET_IDENTITY_MAP_ADDR = 0x4008ae48;

// vCPU ioctls.
export const KVM_RUN = 0xae80;
export const KVM_GET_REGS = 0x8090ae81;
export const KVM_SET_REGS = 0x4090ae82;
export const KVM_GET_SREGS = 0x8138ae83;
export const KVM_SET_SREGS = 0x4138ae84;
export const KVM_INTERRUPT = 0x4004ae86;
export const KVM_SET_MSRS = 0x4008ae89;
export const KVM_SET_CPUID2 = 0x4008ae90;

// Capabilities asked with KVM_CHECK_EXTENSION.
export const KVM_CAP_SET_TSS_ADDR = 4;
export const KVM_CAP_SET_IDENTITY_MAP_ADDR = 37;
export const KVM_CAP_READONLY_MEM = 81;
export const KVM_CAP_IMMEDIATE_EXIT = 136;

/** kvm_userspace_memory_region.flags: guest writes to the slot exit as MMIO instead of landing. */
export const KVM_MEM_READONLY = 1 << 1;

// kvm_run.exit_reason values this backend handles; any other is reported as an internal error.
export const KVM_EXIT_UNKNOWN = 0;
export const KVM_EXIT_EXCEPTION = 1;
export const KVM_EXIT_IO = 2;
export const KVM_EXIT_HLT = 5;
export const KVM_EXIT_MMIO = 6;
export const KVM_EXIT_IRQ_WINDOW_OPEN = 7;
export const KVM_EXIT_SHUTDOWN = 8;
export const KVM_EXIT_FAIL_ENTRY = 9;
export const KVM_EXIT_INTR = 10;
export const KVM_EXIT_INTERNAL_ERROR = 17;

/** kvm_run.io.direction: KVM_EXIT_IO_OUT (1) is a guest OUT/OUTS, KVM_EXIT_IO_IN (0) an IN/INS. */
export const KVM_EXIT_IO_OUT = 1;

// MSRs written at vCPU creation (Intel SDM vol. 4), the set a boot loader expects to find reset.
export const MSR_IA32_SYSENTER_CS = 0x174;
export const MSR_IA32_SYSENTER_ESP = 0x175;
export const MSR_IA32_SYSENTER_EIP = 0x176;
export const MSR_IA32_MISC_ENABLE = 0x1a0;
/** IA32_MISC_ENABLE bit 0: fast-string operations (REP MOVS/STOS) enabled, as firmware leaves it. */
export const MISC_ENABLE_FAST_STRING = 1;
export const MSR_STAR = 0xc0000081;
export const MSR_LSTAR = 0xc0000082;
export const MSR_CSTAR = 0xc0000083;
export const MSR_SYSCALL_MASK = 0xc0000084;
export const MSR_KERNEL_GS_BASE = 0xc0000102;
