// Numbers of Xen's x86-32 PV guest ABI (xen/include/public/xen.h, arch-x86/xen-x86_32.h and the
// headers named beside each group). Facts, not code: the guest and this hypervisor both use them.

/** Page size and the hypervisor's reserved linear region (non-PAE x86_32: the top 64 MiB). */
export const PAGE_SIZE = 4096;
export const PAGE_SHIFT = 12;
export const HYPERVISOR_VIRT_START = 0xfc000000;
/** Guest L2 slots at and above this one belong to the hypervisor. */
export const FIRST_XEN_L2_SLOT = HYPERVISOR_VIRT_START >>> 22;

/** The hypervisor's flat selectors (GDT entries 0xe000/8 upward). */
export const FLAT_RING1_CS = 0xe019;
export const FLAT_RING1_DS = 0xe021;
export const FLAT_RING3_CS = 0xe02b;
export const FLAT_RING3_DS = 0xe033;
/** The hypervisor's own ring-0 code and data selectors (never loadable by the guest). */
export const HYPERVISOR_CS = 0xe008;
export const HYPERVISOR_DS = 0xe010;
/** The first GDT entry reserved for the hypervisor; set_gdt covers entries below it. */
export const FIRST_RESERVED_GDT_ENTRY = 0xe000 >>> 3;
export const FIRST_RESERVED_GDT_PAGE = FIRST_RESERVED_GDT_ENTRY >>> 9;
export const GDT_PAGES = 16;

/** Hypercall numbers (xen.h) and the names `--stats` counts them by. */
export const HYPERCALL_NAMES: Readonly<Record<number, string>> = {
  0: 'set_trap_table', 1: 'mmu_update', 2: 'set_gdt', 3: 'stack_switch', 4: 'set_callbacks',
  5: 'fpu_taskswitch', 10: 'update_descriptor', 12: 'memory_op', 13: 'multicall',
  14: 'update_va_mapping', 15: 'set_timer_op', 17: 'xen_version', 18: 'console_io',
  20: 'grant_table_op', 21: 'vm_assist', 23: 'iret', 24: 'vcpu_op', 26: 'mmuext_op', 29: 'sched_op',
  32: 'event_channel_op', 33: 'physdev_op',
};
export const HC = {
  set_trap_table: 0, mmu_update: 1, set_gdt: 2, stack_switch: 3, set_callbacks: 4, fpu_taskswitch: 5,
  update_descriptor: 10, memory_op: 12, multicall: 13, update_va_mapping: 14, set_timer_op: 15,
  xen_version: 17, console_io: 18, grant_table_op: 20, vm_assist: 21, iret: 23, vcpu_op: 24,
  mmuext_op: 26, sched_op: 29, event_channel_op: 32, physdev_op: 33,
} as const;
/** Hypercall vector. */
export const HYPERCALL_VECTOR = 0x82;

/** Negative errno values Xen returns. */
export const EPERM = -1;
export const ENOENT = -2;
export const ESRCH = -3;
export const E2BIG = -7;
export const EAGAIN = -11;
export const ENOMEM = -12;
export const EACCES = -13;
export const EFAULT = -14;
export const EBUSY = -16;
export const EEXIST = -17;
export const EINVAL = -22;
export const ENODEV = -19;
export const ENOSPC = -28;
export const ENOSYS = -38;

export const DOMID_SELF = 0x7ff0;
export const DOMID_IO = 0x7ff1;
/** The back ends (console, xenstore, block) live in "domain 0", this hypervisor. */
export const BACKEND_DOMID = 0;
/** The guest's domain id. */
export const GUEST_DOMID = 1;

// mmu_update (xen.h)
export const MMU_NORMAL_PT_UPDATE = 0;
export const MMU_MACHPHYS_UPDATE = 1;
export const MMU_PT_UPDATE_PRESERVE_AD = 2;
// mmuext_op commands
export const MMUEXT_PIN_L1_TABLE = 0;
export const MMUEXT_PIN_L2_TABLE = 1;
export const MMUEXT_PIN_L3_TABLE = 2;
export const MMUEXT_PIN_L4_TABLE = 3;
export const MMUEXT_UNPIN_TABLE = 4;
export const MMUEXT_NEW_BASEPTR = 5;
export const MMUEXT_TLB_FLUSH_LOCAL = 6;
export const MMUEXT_INVLPG_LOCAL = 7;
export const MMUEXT_TLB_FLUSH_MULTI = 8;
export const MMUEXT_INVLPG_MULTI = 9;
export const MMUEXT_TLB_FLUSH_ALL = 10;
export const MMUEXT_INVLPG_ALL = 11;
// update_va_mapping flags
export const UVMF_FLUSHTYPE_MASK = 3;
export const UVMF_TLB_FLUSH = 1;
export const UVMF_INVLPG = 2;

/** Page-table entry bits. */
export const PTE_P = 1;
export const PTE_RW = 2;
export const PTE_US = 4;
export const PTE_A = 0x20;
export const PTE_D = 0x40;
/** Flags a guest may not set (Xen's L1/L2_DISALLOW_MASK for non-PAE: PAT/PSE and GLOBAL). */
export const PTE_DISALLOW = 0x180;

// sched_op (sched.h)
export const SCHEDOP_yield = 0;
export const SCHEDOP_block = 1;
export const SCHEDOP_shutdown = 2;
export const SCHEDOP_poll = 3;
export const SCHEDOP_remote_shutdown = 4;
export const SCHEDOP_shutdown_code = 5;
export const SCHEDOP_watchdog = 6;
export const SHUTDOWN_poweroff = 0;
export const SHUTDOWN_reboot = 1;
export const SHUTDOWN_suspend = 2;
export const SHUTDOWN_crash = 3;
export const SHUTDOWN_watchdog = 4;
/** Watchdog timers a domain may have (Xen's NR_DOMAIN_WATCHDOG_TIMERS). */
export const NR_DOMAIN_WATCHDOG_TIMERS = 2;
/** Ports one SCHEDOP_poll may name (Xen's "fairly arbitrary limit"). */
export const SCHED_POLL_MAX_PORTS = 128;

// vcpu_op (vcpu.h)
export const VCPUOP_initialise = 0;
export const VCPUOP_up = 1;
export const VCPUOP_down = 2;
export const VCPUOP_is_up = 3;
export const VCPUOP_get_runstate_info = 4;
export const VCPUOP_register_runstate_memory_area = 5;
export const VCPUOP_set_periodic_timer = 6;
export const VCPUOP_stop_periodic_timer = 7;
export const VCPUOP_set_singleshot_timer = 8;
export const VCPUOP_stop_singleshot_timer = 9;
export const VCPU_SSHOTTMR_future = 1;
export const ETIME = -62;
/** vcpu_guest_context.flags (arch-x86/xen.h). */
export const VGCF_I387_VALID = 1;
/**
 * x86-32 vcpu_guest_context (2800 bytes): fpu_ctxt[512], flags, cpu_user_regs (68 bytes), trap_ctxt[256]
 * (8 bytes each), ldt_base/ents, gdt_frames[16], gdt_ents, kernel_ss/sp, ctrlreg[8], debugreg[8],
 * event and failsafe callbacks (cs, eip), vm_assist.
 */
export const VCPU_CONTEXT_32 = {
  size: 2800, fpu: 0, flags: 512, userRegs: 516, trapCtxt: 584, ldtBase: 2632, ldtEnts: 2636, gdtFrames: 2640, gdtEnts: 2704,
  kernelSs: 2708, kernelSp: 2712, ctrlreg: 2716, debugreg: 2748, eventCs: 2780, eventEip: 2784, failsafeCs: 2788,
  failsafeEip: 2792, vmAssist: 2796,
} as const;
/** cpu_user_regs on x86-32, offsets from its start: ebx..eax, eip, cs, eflags, esp, then ss, es, ds, fs, gs. */
export const USER_REGS_32 = {
  ebx: 0, ecx: 4, edx: 8, esi: 12, edi: 16, ebp: 20, eax: 24, eip: 32, cs: 36, eflags: 40, esp: 44, ss: 48, es: 52, ds: 56, fs: 60, gs: 64,
} as const;

// event_channel_op (event_channel.h)
export const EVTCHNOP_bind_virq = 1;
export const EVTCHNOP_bind_interdomain = 0;
export const EVTCHNOP_close = 3;
export const EVTCHNOP_send = 4;
export const EVTCHNOP_status = 5;
export const EVTCHNOP_alloc_unbound = 6;
export const EVTCHNOP_bind_ipi = 7;
export const EVTCHNOP_bind_vcpu = 8;
export const EVTCHNOP_unmask = 9;
export const VIRQ_TIMER = 0;
/** The VIRQs each vCPU has its own of (Xen's VIRQ_VCPU type: TIMER, DEBUG, XENOPROF, XENPMU); the rest are the domain's. */
export const PER_VCPU_VIRQS: readonly number[] = [0, 1, 7, 13];
/** vcpu_info slots in shared_info, so the most vCPUs a domain here can have (XEN_LEGACY_MAX_VCPUS). */
export const MAX_VCPUS = 32;
export const NR_VIRQS = 24;
/** Ports: 32 bits of pending_sel × 32 bits a word = 1024 on x86_32. */
export const NR_EVENT_CHANNELS = 1024;

// console_io
export const CONSOLEIO_write = 0;
export const CONSOLEIO_read = 1;

// xen_version (version.h)
export const XENVER_version = 0;
export const XENVER_extraversion = 1;
export const XENVER_capabilities = 3;
export const XENVER_platform_parameters = 5;
export const XENVER_get_features = 6;
export const XENVER_pagesize = 7;

// vm_assist
export const VMASST_CMD_enable = 0;
export const VMASST_CMD_disable = 1;
export const VMASST_TYPE_4gb_segments = 0;
export const VMASST_TYPE_4gb_segments_notify = 1;
export const VMASST_TYPE_writable_pagetables = 2;
export const VMASST_TYPE_runstate_update_flag = 5;

// memory_op (memory.h)
export const XENMEM_maximum_ram_page = 2;
export const XENMEM_current_reservation = 3;
export const XENMEM_maximum_reservation = 4;
export const XENMEM_memory_map = 9;

// grant_table_op (grant_table.h)
export const GNTTABOP_map_grant_ref = 0;
export const GNTTABOP_unmap_grant_ref = 1;
export const GNTTABOP_setup_table = 2;
export const GNTTABOP_query_size = 6;
export const GTF_permit_access = 1;
export const GTF_type_mask = 3;
export const GTF_readonly = 4;
export const GTF_reading = 8;
export const GTF_writing = 16;
export const GNTST_okay = 0;
export const GNTST_general_error = -1;
export const GNTST_bad_domain = -2;
export const GNTST_bad_gntref = -3;
export const GNTST_bad_handle = -4;
export const GNTST_bad_virt_addr = -5;
export const GNTST_permission_denied = -8;

// physdev_op (physdev.h)
export const PHYSDEVOP_set_iopl = 6;

/** start_info layout (x86_32). */
export const START_INFO = {
  magic: 0, nrPages: 32, sharedInfo: 36, flags: 40, storeMfn: 44, storeEvtchn: 48, consoleMfn: 52,
  consoleEvtchn: 56, ptBase: 60, nrPtFrames: 64, mfnList: 68, modStart: 72, modLen: 76, cmdLine: 80,
} as const;
export const START_INFO_MAGIC = 'xen-3.0-x86_32';
export const MAX_GUEST_CMDLINE = 1024;

/** shared_info layout (x86_32). */
export const SHARED_INFO = {
  vcpuInfoSize: 64, upcallPending: 0, upcallMask: 1, pendingSel: 4, cr2: 8, time: 32,
  evtchnPending: 2048, evtchnMask: 2176, wcVersion: 2304, wcSec: 2308, wcNsec: 2312,
} as const;
/** vcpu_time_info fields, from vcpu_info.time. */
export const TIME_INFO = { version: 0, tscTimestamp: 8, systemTime: 16, tscToSystemMul: 24, tscShift: 28 } as const;
