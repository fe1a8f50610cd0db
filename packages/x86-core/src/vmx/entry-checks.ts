// The checks VM entry makes (SDM Vol. 3C, 26.2 controls, 26.3.1 guest state) that matter to a
// 32-bit guest on this CPU. A failed control check is VMfailValid (no entry); a failed guest-state
// check is a VM exit with reason 33 and bit 31 set. Each returns why, or null.
import type { Ept } from '@ringvisor/mmu';
import { CS, LDTR, SS, TR, type Cpu } from '../cpu.js';
import {
  ACTIVITY_HLT, BLOCKING_BY_MOV_SS, BLOCKING_BY_NMI, BLOCKING_BY_STI, CPU_ACTIVATE_SECONDARY_CONTROLS, CPU_USE_IO_BITMAPS,
  CPU_USE_MSR_BITMAPS, INTR_INFO_ERROR_CODE, INTR_INFO_VALID, INTR_TYPE_EXTERNAL, INTR_TYPE_HARDWARE_EXCEPTION,
  INTR_TYPE_NMI, INTR_TYPE_PRIVILEGED_SOFTWARE_EXCEPTION, INTR_TYPE_SOFTWARE_INTERRUPT,
  SECONDARY_ENABLE_EPT, SECONDARY_ENABLE_VPID, SECONDARY_UNRESTRICTED_GUEST, SUPPORTED_EXIT, SUPPORTED_PIN,
  SUPPORTED_PRIMARY, SUPPORTED_SECONDARY, VMCS,
} from './fields.js';
import type { Vmcs } from './vmcs.js';

const CR0_PE = 1;
const CR0_NE = 1 << 5;
const CR0_NW = 1 << 29;
const CR0_CD = 1 << 30;
const CR0_PG = 1 << 31;
const RFLAGS_RESERVED = 0xffc08028;
const RFLAGS_IF = 1 << 9;
const RFLAGS_VM = 1 << 17;
const UNUSABLE = 1 << 16;
/** Exceptions that push an error code: an injected one must deliver it, others must not. */
const HAS_ERROR_CODE = (1 << 8) | (1 << 10) | (1 << 11) | (1 << 12) | (1 << 13) | (1 << 14) | (1 << 17);

function hex(v: number): string {
  return `0x${(v >>> 0).toString(16)}`;
}

/** VM-execution, exit and entry control checks (SDM 26.2.1). */
export function checkControls(vmcs: Vmcs, ept: Ept): string | null {
  const pin = vmcs.read(VMCS.PIN_BASED_CONTROLS);
  const primary = vmcs.read(VMCS.PRIMARY_PROCESSOR_CONTROLS);
  if (pin & ~SUPPORTED_PIN) return `pin-based controls ${hex(pin)} set unsupported bits ${hex(pin & ~SUPPORTED_PIN)}`;
  if (primary & ~SUPPORTED_PRIMARY) return `primary processor-based controls ${hex(primary)} set unsupported bits ${hex(primary & ~SUPPORTED_PRIMARY)}`;
  const secondary = primary & CPU_ACTIVATE_SECONDARY_CONTROLS ? vmcs.read(VMCS.SECONDARY_PROCESSOR_CONTROLS) : 0;
  if (secondary & ~SUPPORTED_SECONDARY) return `secondary controls ${hex(secondary)} set unsupported bits ${hex(secondary & ~SUPPORTED_SECONDARY)}`;
  const exitControls = vmcs.read(VMCS.VM_EXIT_CONTROLS);
  if (exitControls & ~SUPPORTED_EXIT) return `VM-exit controls ${hex(exitControls)} set unsupported bits`;
  if (primary & CPU_USE_IO_BITMAPS) {
    if (vmcs.read(VMCS.IO_BITMAP_A) % 4096 !== 0 || vmcs.read(VMCS.IO_BITMAP_B) % 4096 !== 0) return 'an I/O bitmap address is not 4 KiB aligned';
  }
  if (primary & CPU_USE_MSR_BITMAPS && vmcs.read(VMCS.MSR_BITMAP) % 4096 !== 0) return 'the MSR bitmap address is not 4 KiB aligned';
  if (secondary & SECONDARY_ENABLE_VPID && vmcs.read(VMCS.VPID) === 0) return 'VPID enabled with VPID 0';
  if (secondary & SECONDARY_UNRESTRICTED_GUEST && !(secondary & SECONDARY_ENABLE_EPT)) return 'unrestricted guest without EPT';
  if (secondary & SECONDARY_ENABLE_EPT) {
    const eptp = vmcs.read(VMCS.EPT_POINTER);
    if (ept.pointer !== eptp || eptp === 0) {
      const problem = ept.setPointer(eptp);
      if (problem !== null) return problem;
    }
  }
  const info = vmcs.read(VMCS.VM_ENTRY_INTERRUPTION_INFO);
  if (info & INTR_INFO_VALID) {
    if (info & 0x7ffff000) return `VM-entry interruption information ${hex(info)} sets reserved bits 30:12`;
    const vector = info & 0xff;
    const type = (info >>> 8) & 7;
    if (type === 1 || type === 7) return `VM-entry interruption type ${type} is reserved`;
    if (type === INTR_TYPE_NMI && vector !== 2) return 'an injected NMI must have vector 2';
    if (type === INTR_TYPE_HARDWARE_EXCEPTION && vector > 31) return `an injected hardware exception has vector ${vector} > 31`;
    const deliverCode = (info & INTR_INFO_ERROR_CODE) !== 0;
    const guestPe = (vmcs.read(VMCS.GUEST_CR0) & CR0_PE) !== 0;
    const needsCode = type === INTR_TYPE_HARDWARE_EXCEPTION && guestPe && ((HAS_ERROR_CODE >> vector) & 1) !== 0;
    if (deliverCode !== needsCode) return `error-code delivery ${deliverCode ? 'set' : 'clear'} for an event that ${needsCode ? 'has' : 'has no'} error code`;
    if (type >= INTR_TYPE_SOFTWARE_INTERRUPT || type === INTR_TYPE_PRIVILEGED_SOFTWARE_EXCEPTION) {
      const length = vmcs.read(VMCS.VM_ENTRY_INSTRUCTION_LENGTH);
      if (length < 1 || length > 15) return `VM-entry instruction length ${length} is not 1..15`;
    }
  }
  return null;
}

/** Guest-state checks (SDM 26.3.1) for a 32-bit guest. */
export function checkGuestState(vmcs: Vmcs, cpu: Cpu): string | null {
  const primary = vmcs.read(VMCS.PRIMARY_PROCESSOR_CONTROLS);
  const secondary = primary & CPU_ACTIVATE_SECONDARY_CONTROLS ? vmcs.read(VMCS.SECONDARY_PROCESSOR_CONTROLS) : 0;
  const unrestricted = (secondary & SECONDARY_UNRESTRICTED_GUEST) !== 0;
  const cr0 = cpu.cr0;
  // IA32_VMX_CR0_FIXED0: PE, NE and PG are 1 (PE and PG may be 0 for an unrestricted guest).
  if (!(cr0 & CR0_NE)) return `guest CR0 ${hex(cr0)}: NE must be 1`;
  if (!unrestricted && (!(cr0 & CR0_PE) || !(cr0 & CR0_PG))) return `guest CR0 ${hex(cr0)}: PE and PG must be 1 without unrestricted guest`;
  if (cr0 & CR0_PG && !(cr0 & CR0_PE)) return `guest CR0 ${hex(cr0)}: PG without PE`;
  if (cr0 & CR0_NW && !(cr0 & CR0_CD)) return `guest CR0 ${hex(cr0)}: NW without CD`;
  const rflags = vmcs.read(VMCS.GUEST_RFLAGS);
  if ((rflags & RFLAGS_RESERVED) !== 0 || (rflags & 2) === 0) return `guest RFLAGS ${hex(rflags)}: reserved bits wrong`;
  if (rflags & RFLAGS_VM && !(cr0 & CR0_PE)) return 'guest RFLAGS.VM with CR0.PE = 0';
  const cs = cpu.segAccess[CS];
  const v86 = (rflags & RFLAGS_VM) !== 0;
  if (!v86) {
    const csType = cs & 0xf;
    const realData = unrestricted && csType === 3;
    if ((cs & UNUSABLE) !== 0 || (!realData && (csType & 9) !== 9) || !(cs & 0x10) || !(cs & 0x80)) {
      return `guest CS access rights ${hex(cs)}: not a usable present code segment`;
    }
    const ss = cpu.segAccess[SS];
    if ((cr0 & CR0_PE) && !(ss & UNUSABLE) && ((ss >> 5) & 3) !== ((cs >> 5) & 3) && (csType & 4) === 0) {
      return `guest SS DPL ${(ss >> 5) & 3} differs from CS DPL ${(cs >> 5) & 3}`;
    }
  }
  const tr = cpu.segAccess[TR];
  if ((tr & UNUSABLE) !== 0 || ((tr & 0xf) !== 3 && (tr & 0xf) !== 11) || (tr & 0x10) || !(tr & 0x80)) {
    return `guest TR access rights ${hex(tr)}: not a present busy TSS`;
  }
  const ldtr = cpu.segAccess[LDTR];
  if (!(ldtr & UNUSABLE) && ((ldtr & 0x1f) !== 2 || !(ldtr & 0x80))) return `guest LDTR access rights ${hex(ldtr)}: not a present LDT`;
  const activity = vmcs.read(VMCS.GUEST_ACTIVITY_STATE);
  if (activity !== 0 && activity !== ACTIVITY_HLT) return `guest activity state ${activity} is not supported`;
  const blocking = vmcs.read(VMCS.GUEST_INTERRUPTIBILITY_STATE);
  if (blocking & ~(BLOCKING_BY_STI | BLOCKING_BY_MOV_SS | BLOCKING_BY_NMI)) return `guest interruptibility ${hex(blocking)} sets unsupported bits`;
  if ((blocking & 3) === 3) return 'guest interruptibility: blocking by STI and by MOV SS together';
  if (blocking & BLOCKING_BY_STI && !(rflags & RFLAGS_IF)) return 'guest interruptibility: blocking by STI with RFLAGS.IF = 0';
  if (activity === ACTIVITY_HLT && blocking & BLOCKING_BY_MOV_SS) return 'HLT activity state with blocking by MOV SS';
  const info = vmcs.read(VMCS.VM_ENTRY_INTERRUPTION_INFO);
  if (info & INTR_INFO_VALID) {
    const type = (info >>> 8) & 7;
    if (type === INTR_TYPE_EXTERNAL && !(rflags & RFLAGS_IF)) return 'an external interrupt injected with RFLAGS.IF = 0';
    if (type === INTR_TYPE_EXTERNAL && (blocking & 3) !== 0) return 'an external interrupt injected in an interrupt shadow';
    if (type === INTR_TYPE_NMI && (blocking & BLOCKING_BY_MOV_SS) !== 0) return 'an NMI injected with blocking by MOV SS';
    // Without virtual NMIs (not offered here), an injected NMI must find NMIs unblocked.
    if (type === INTR_TYPE_NMI && (blocking & BLOCKING_BY_NMI) !== 0) return 'an NMI injected with blocking by NMI';
  }
  return null;
}
