// Numbers of Xen's x86-64 PV guest ABI (xen/include/public/xen.h, arch-x86/xen-x86_64.h,
// arch-x86/xen.h, elfnote.h): the layouts and constants that differ from the x86-32 ABI in ../abi.ts.
// Facts, not code: the guest and this hypervisor both use them.

/** The hypervisor's reserved part of the upper half: L4 slots 256-271 (xen-x86_64.h). */
export const HYPERVISOR_VIRT_START = -0x8000_0000_0000; // 0xffff800000000000
export const HYPERVISOR_VIRT_END = -0x7800_0000_0000; // 0xffff880000000000
export const FIRST_XEN_L4_SLOT = 256;
export const XEN_L4_SLOTS = 16;
/** The read-only machine-to-physical table (MACH2PHYS_VIRT_START..END), L4 slot 256. */
export const MACH2PHYS_VIRT_START = HYPERVISOR_VIRT_START;
export const MACH2PHYS_VIRT_END = -0x7fc0_0000_0000; // 0xffff804000000000
export const MACH2PHYS_NR_ENTRIES = 2 ** 35;
/** The per-domain area where the hypervisor maps the CPU's GDT (L4 slot 260). */
export const PERDOMAIN_VIRT_START = -0x7e00_0000_0000; // 0xffff820000000000

/** The hypervisor's flat selectors (GDT entries from 0xe000/8, xen-x86_64.h). */
export const FLAT_RING3_CS32 = 0xe023;
export const FLAT_RING3_DS32 = 0xe02b;
export const FLAT_RING3_CS64 = 0xe033;
export const FLAT_RING3_SS64 = 0xe02b;
export const FLAT_KERNEL_CS = FLAT_RING3_CS64;
export const FLAT_KERNEL_SS = FLAT_RING3_SS64;
export const FLAT_KERNEL_DS = 0;
export const FLAT_USER_CS = FLAT_RING3_CS64;
export const FLAT_USER_SS = FLAT_RING3_SS64;

/** Hypercall numbers the x86-64 ABI adds (xen.h); the others are ../abi.ts's. */
export const HC64 = {
  set_debugreg: 8, get_debugreg: 9, set_segment_base: 25, callback_op: 30, xsm_op: 27, nmi_op: 28, hvm_op: 34, sysctl: 35,
} as const;
export const HYPERCALL_NAMES_64: Readonly<Record<number, string>> = {
  8: 'set_debugreg', 9: 'get_debugreg', 25: 'set_segment_base', 30: 'callback_op',
};

// set_segment_base (xen-x86_64.h)
export const SEGBASE_FS = 0;
export const SEGBASE_GS_USER = 1;
export const SEGBASE_GS_KERNEL = 2;
export const SEGBASE_GS_USER_SEL = 3;

// callback_op (callback.h)
export const CALLBACKOP_register = 0;
export const CALLBACKOP_unregister = 1;
export const CALLBACKTYPE_event = 0;
export const CALLBACKTYPE_failsafe = 1;
export const CALLBACKTYPE_syscall = 2;
export const CALLBACKTYPE_sysenter = 3;
export const CALLBACKTYPE_nmi = 4;
export const CALLBACKTYPE_syscall32 = 7;
export const CALLBACKF_mask_events = 1;

/** iret_context flags (xen-x86_64.h): VGCF_in_syscall keeps the guest's RCX and R11 clobbered. */
export const VGCF_in_syscall = 0x100;

// mmuext_op commands the x86-64 ABI uses beyond ../abi.ts's
export const MMUEXT_NEW_USER_BASEPTR = 15;
export const MMUEXT_SET_LDT = 13;
export const MMUEXT_COPY_PAGE = 17;
export const MMUEXT_CLEAR_PAGE = 16;
export const MMUEXT_FLUSH_CACHE = 12;

// memory_op (memory.h)
export const XENMEM_machphys_mfn_list = 5;
export const XENMEM_machphys_mapping = 12;

// vcpu_op (vcpu.h; the numbers both ABIs share are in ../abi.ts)
export const VCPUOP_register_vcpu_info = 10;

// start_info flags (xen.h)
export const SIF_MOD_START_PFN = 1 << 3;

/** start_info for x86-64: unsigned long and xen_pfn_t are 8 bytes. */
export const START_INFO_64 = {
  magic: 0, nrPages: 32, sharedInfo: 40, flags: 48, storeMfn: 56, storeEvtchn: 64, consoleMfn: 72, consoleEvtchn: 80,
  ptBase: 88, nrPtFrames: 96, mfnList: 104, modStart: 112, modLen: 120, cmdLine: 128, firstP2mPfn: 1152, nrP2mFrames: 1160,
} as const;
export const START_INFO_MAGIC_64 = 'xen-3.0-x86_64';

/** shared_info for x86-64: vcpu_info[32] of 64 bytes, then 64-bit pending/mask words (4096 ports). */
export const SHARED_INFO_64 = {
  upcallPending: 0, upcallMask: 1, pendingSel: 8, cr2: 16, time: 32,
  evtchnPending: 2048, evtchnMask: 2560, wcVersion: 3072, wcSec: 3076, wcNsec: 3080, wcSecHi: 3084,
  maxPfn: 3088, pfnToMfnFrameListList: 3096,
} as const;
export const NR_EVENT_CHANNELS_64 = 4096;

/**
 * x86-64 vcpu_guest_context (5168 bytes): fpu_ctxt[512], flags, cpu_user_regs (200 bytes),
 * trap_ctxt[256] (16 bytes each), ldt_base/ents, gdt_frames[16], gdt_ents, kernel_ss/sp,
 * ctrlreg[8], debugreg[8], event/failsafe/syscall callback RIPs, vm_assist, fs_base, gs_base_kernel,
 * gs_base_user: every field 8 bytes.
 */
export const VCPU_CONTEXT_64 = {
  size: 5168, fpu: 0, flags: 512, userRegs: 520, trapCtxt: 720, ldtBase: 4816, ldtEnts: 4824, gdtFrames: 4832, gdtEnts: 4960,
  kernelSs: 4968, kernelSp: 4976, ctrlreg: 4984, debugreg: 5048, eventCallback: 5112, failsafeCallback: 5120,
  syscallCallback: 5128, vmAssist: 5136, fsBase: 5144, gsBaseKernel: 5152, gsBaseUser: 5160,
} as const;
/** x86-64 cpu_user_regs, offsets from its start: R15, R14, R13, R12, RBP, RBX, R11..R8, RAX, RCX, RDX, RSI, RDI, then RIP, CS, RFLAGS, RSP, SS. */
export const USER_REGS_64 = {
  r15: 0, r14: 8, r13: 16, r12: 24, rbp: 32, rbx: 40, r11: 48, r10: 56, r9: 64, r8: 72, rax: 80, rcx: 88, rdx: 96, rsi: 104,
  rdi: 112, rip: 128, cs: 136, rflags: 144, rsp: 152, ss: 160,
} as const;
