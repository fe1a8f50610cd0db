// VMCS field encodings, control bits and exit reasons (Intel SDM Vol. 3D, Appendices B and C; Vol. 3C
// chapters 25 and 28). Names follow the SDM's field names.

/** Every VMCS field this VMX implements: name → encoding. */
export const VMCS = {
  // 16-bit control and guest-state fields.
  VPID: 0x0000,
  GUEST_ES_SELECTOR: 0x0800, GUEST_CS_SELECTOR: 0x0802, GUEST_SS_SELECTOR: 0x0804, GUEST_DS_SELECTOR: 0x0806,
  GUEST_FS_SELECTOR: 0x0808, GUEST_GS_SELECTOR: 0x080a, GUEST_LDTR_SELECTOR: 0x080c, GUEST_TR_SELECTOR: 0x080e,
  // 64-bit control fields.
  IO_BITMAP_A: 0x2000, IO_BITMAP_B: 0x2002, MSR_BITMAP: 0x2004, TSC_OFFSET: 0x2010, EPT_POINTER: 0x201a,
  // 64-bit read-only data and guest state.
  GUEST_PHYSICAL_ADDRESS: 0x2400,
  VMCS_LINK_POINTER: 0x2800, GUEST_IA32_EFER: 0x2806,
  // 32-bit control fields.
  PIN_BASED_CONTROLS: 0x4000, PRIMARY_PROCESSOR_CONTROLS: 0x4002, EXCEPTION_BITMAP: 0x4004,
  PAGE_FAULT_ERROR_CODE_MASK: 0x4006, PAGE_FAULT_ERROR_CODE_MATCH: 0x4008, CR3_TARGET_COUNT: 0x400a,
  VM_EXIT_CONTROLS: 0x400c, VM_ENTRY_CONTROLS: 0x4012, VM_ENTRY_INTERRUPTION_INFO: 0x4016,
  VM_ENTRY_EXCEPTION_ERROR_CODE: 0x4018, VM_ENTRY_INSTRUCTION_LENGTH: 0x401a, SECONDARY_PROCESSOR_CONTROLS: 0x401e,
  // 32-bit read-only data fields.
  VM_INSTRUCTION_ERROR: 0x4400, EXIT_REASON: 0x4402, VM_EXIT_INTERRUPTION_INFO: 0x4404,
  VM_EXIT_INTERRUPTION_ERROR_CODE: 0x4406, IDT_VECTORING_INFO: 0x4408, IDT_VECTORING_ERROR_CODE: 0x440a,
  VM_EXIT_INSTRUCTION_LENGTH: 0x440c, VM_EXIT_INSTRUCTION_INFO: 0x440e,
  // 32-bit guest state.
  GUEST_ES_LIMIT: 0x4800, GUEST_CS_LIMIT: 0x4802, GUEST_SS_LIMIT: 0x4804, GUEST_DS_LIMIT: 0x4806,
  GUEST_FS_LIMIT: 0x4808, GUEST_GS_LIMIT: 0x480a, GUEST_LDTR_LIMIT: 0x480c, GUEST_TR_LIMIT: 0x480e,
  GUEST_GDTR_LIMIT: 0x4810, GUEST_IDTR_LIMIT: 0x4812,
  GUEST_ES_ACCESS_RIGHTS: 0x4814, GUEST_CS_ACCESS_RIGHTS: 0x4816, GUEST_SS_ACCESS_RIGHTS: 0x4818,
  GUEST_DS_ACCESS_RIGHTS: 0x481a, GUEST_FS_ACCESS_RIGHTS: 0x481c, GUEST_GS_ACCESS_RIGHTS: 0x481e,
  GUEST_LDTR_ACCESS_RIGHTS: 0x4820, GUEST_TR_ACCESS_RIGHTS: 0x4822,
  GUEST_INTERRUPTIBILITY_STATE: 0x4824, GUEST_ACTIVITY_STATE: 0x4826, GUEST_IA32_SYSENTER_CS: 0x482a,
  VMX_PREEMPTION_TIMER_VALUE: 0x482e,
  // 32-bit host state.
  HOST_IA32_SYSENTER_CS: 0x4c00,
  // Natural-width control fields.
  CR0_GUEST_HOST_MASK: 0x6000, CR4_GUEST_HOST_MASK: 0x6002, CR0_READ_SHADOW: 0x6004, CR4_READ_SHADOW: 0x6006,
  // Natural-width read-only data.
  EXIT_QUALIFICATION: 0x6400, GUEST_LINEAR_ADDRESS: 0x640a,
  // Natural-width guest state.
  GUEST_CR0: 0x6800, GUEST_CR3: 0x6802, GUEST_CR4: 0x6804,
  GUEST_ES_BASE: 0x6806, GUEST_CS_BASE: 0x6808, GUEST_SS_BASE: 0x680a, GUEST_DS_BASE: 0x680c,
  GUEST_FS_BASE: 0x680e, GUEST_GS_BASE: 0x6810, GUEST_LDTR_BASE: 0x6812, GUEST_TR_BASE: 0x6814,
  GUEST_GDTR_BASE: 0x6816, GUEST_IDTR_BASE: 0x6818, GUEST_DR7: 0x681a, GUEST_RSP: 0x681c, GUEST_RIP: 0x681e,
  GUEST_RFLAGS: 0x6820, GUEST_IA32_SYSENTER_ESP: 0x6824, GUEST_IA32_SYSENTER_EIP: 0x6826,
  // Natural-width host state.
  HOST_IA32_SYSENTER_ESP: 0x6c10, HOST_IA32_SYSENTER_EIP: 0x6c12,
} as const;
export type VmcsFieldName = keyof typeof VMCS;

// Pin-based VM-execution controls (SDM Table 25-5).
export const PIN_EXTERNAL_INTERRUPT_EXITING = 1 << 0;
export const PIN_NMI_EXITING = 1 << 3;
export const PIN_PREEMPTION_TIMER = 1 << 6;

// Primary processor-based VM-execution controls (Table 25-6).
export const CPU_INTERRUPT_WINDOW_EXITING = 1 << 2;
export const CPU_USE_TSC_OFFSETTING = 1 << 3;
export const CPU_HLT_EXITING = 1 << 7;
export const CPU_INVLPG_EXITING = 1 << 9;
export const CPU_RDTSC_EXITING = 1 << 12;
export const CPU_CR3_LOAD_EXITING = 1 << 15;
export const CPU_CR3_STORE_EXITING = 1 << 16;
export const CPU_CR8_LOAD_EXITING = 1 << 19;
export const CPU_CR8_STORE_EXITING = 1 << 20;
export const CPU_MOV_DR_EXITING = 1 << 23;
export const CPU_UNCONDITIONAL_IO_EXITING = 1 << 24;
export const CPU_USE_IO_BITMAPS = 1 << 25;
export const CPU_MONITOR_TRAP_FLAG = 1 << 27;
export const CPU_USE_MSR_BITMAPS = 1 << 28;
export const CPU_PAUSE_EXITING = 1 << 30;
export const CPU_ACTIVATE_SECONDARY_CONTROLS = 1 << 31;

// Secondary processor-based VM-execution controls (Table 25-7).
export const SECONDARY_ENABLE_EPT = 1 << 1;
export const SECONDARY_ENABLE_VPID = 1 << 5;
export const SECONDARY_WBINVD_EXITING = 1 << 6;
export const SECONDARY_UNRESTRICTED_GUEST = 1 << 7;

// VM-exit controls (Table 25-13).
export const EXIT_ACKNOWLEDGE_INTERRUPT = 1 << 15;
export const EXIT_SAVE_PREEMPTION_TIMER = 1 << 22;

/**
 * The controls this VMX implements (the allowed-1 settings its capability MSRs would report);
 * setting any other bit fails VM entry with VM-instruction error 7.
 */
export const SUPPORTED_PIN = PIN_EXTERNAL_INTERRUPT_EXITING | PIN_NMI_EXITING | PIN_PREEMPTION_TIMER;
export const SUPPORTED_PRIMARY = CPU_INTERRUPT_WINDOW_EXITING | CPU_USE_TSC_OFFSETTING | CPU_HLT_EXITING |
  CPU_INVLPG_EXITING | CPU_RDTSC_EXITING | CPU_CR3_LOAD_EXITING | CPU_CR3_STORE_EXITING | CPU_CR8_LOAD_EXITING |
  CPU_CR8_STORE_EXITING | CPU_MOV_DR_EXITING | CPU_UNCONDITIONAL_IO_EXITING | CPU_USE_IO_BITMAPS |
  CPU_MONITOR_TRAP_FLAG | CPU_USE_MSR_BITMAPS | CPU_PAUSE_EXITING | CPU_ACTIVATE_SECONDARY_CONTROLS;
export const SUPPORTED_SECONDARY = SECONDARY_ENABLE_EPT | SECONDARY_ENABLE_VPID | SECONDARY_WBINVD_EXITING |
  SECONDARY_UNRESTRICTED_GUEST;
export const SUPPORTED_EXIT = EXIT_ACKNOWLEDGE_INTERRUPT | EXIT_SAVE_PREEMPTION_TIMER;

/** Basic exit reasons (SDM Appendix C). */
export const EXIT_REASON = {
  EXCEPTION_OR_NMI: 0,
  EXTERNAL_INTERRUPT: 1,
  TRIPLE_FAULT: 2,
  INTERRUPT_WINDOW: 7,
  NMI_WINDOW: 8,
  TASK_SWITCH: 9,
  CPUID: 10,
  HLT: 12,
  INVD: 13,
  INVLPG: 14,
  RDTSC: 16,
  VMCALL: 18,
  CR_ACCESS: 28,
  DR_ACCESS: 29,
  IO_INSTRUCTION: 30,
  RDMSR: 31,
  WRMSR: 32,
  INVALID_GUEST_STATE: 33,
  MONITOR_TRAP_FLAG: 37,
  PAUSE: 40,
  EPT_VIOLATION: 48,
  EPT_MISCONFIGURATION: 49,
  PREEMPTION_TIMER: 52,
  WBINVD: 54,
} as const;

/** The SDM's name of each basic exit reason this VMX produces, by number. */
export const EXIT_REASON_NAMES: ReadonlyMap<number, string> = new Map([
  [0, 'exception or NMI'], [1, 'external interrupt'], [2, 'triple fault'], [7, 'interrupt window'],
  [8, 'NMI window'], [9, 'task switch'], [10, 'CPUID'], [12, 'HLT'], [13, 'INVD'], [14, 'INVLPG'], [16, 'RDTSC'],
  [18, 'VMCALL'], [28, 'control-register access'], [29, 'MOV DR'], [30, 'I/O instruction'], [31, 'RDMSR'],
  [32, 'WRMSR'], [33, 'VM-entry failure due to invalid guest state'], [37, 'monitor trap flag'], [40, 'PAUSE'],
  [48, 'EPT violation'], [49, 'EPT misconfiguration'], [52, 'VMX-preemption timer expired'], [54, 'WBINVD'],
]);

/** Exit reason bit 31: VM-entry failure. */
export const EXIT_REASON_ENTRY_FAILURE = 0x80000000;

// Interruption-information fields (SDM 25.8.3, 28.2.2): vector 7:0, type 10:8, error code 11, valid 31.
export const INTR_INFO_VALID = 0x80000000;
export const INTR_INFO_ERROR_CODE = 1 << 11;
export const INTR_TYPE_EXTERNAL = 0;
export const INTR_TYPE_NMI = 2;
export const INTR_TYPE_HARDWARE_EXCEPTION = 3;
export const INTR_TYPE_SOFTWARE_INTERRUPT = 4;
export const INTR_TYPE_PRIVILEGED_SOFTWARE_EXCEPTION = 5;
export const INTR_TYPE_SOFTWARE_EXCEPTION = 6;

// Guest interruptibility state (Table 25-3) and activity state (25.4.2).
export const BLOCKING_BY_STI = 1 << 0;
export const BLOCKING_BY_MOV_SS = 1 << 1;
/** NMIs are blocked: an NMI was delivered and no IRET has run since (SDM 6.7.1). */
export const BLOCKING_BY_NMI = 1 << 3;
export const ACTIVITY_ACTIVE = 0;
export const ACTIVITY_HLT = 1;

// Exit qualification of control-register accesses (Table 28-3).
export const CR_ACCESS_MOV_TO = 0;
export const CR_ACCESS_MOV_FROM = 1;
export const CR_ACCESS_CLTS = 2;
export const CR_ACCESS_LMSW = 3;

/** VM-instruction error numbers (SDM 31.4) this VMX reports. */
export const VM_INSTRUCTION_ERROR = {
  INVALID_CONTROL_FIELDS: 7,
} as const;
