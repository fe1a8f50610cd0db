import { CpuFault, throwFault } from '../fault.js';
import {
  CR0_PG, CR0_TS, CS, DS, ES, ESP, FLAG_NT, FLAG_VM, FS, GS, LDTR, SS, TR, type SystemCpu,
} from './cpu-view.js';
import {
  Descriptor, TYPE_LDT, TYPE_TSS16_AVAILABLE, TYPE_TSS32_AVAILABLE,
  UNUSABLE, loadCache, loadNull, loadRealModeSegment, markAccessed, readDescriptor, setBusy,
} from './descriptor.js';
import { deliverException } from './interrupt.js';
import { StackCursor } from './stack.js';
import { DB, GP, NP, SS_FAULT, TS } from './vectors.js';

/** DR6 bit 15: the #DB was raised by a task switch to a TSS with T set. */
const DR6_BT = 1 << 15;

/** What started a task switch (SDM Vol. 3A 7.3): it decides busy bits, NT and the back link. */
export type TaskSwitchSource = 'jmp' | 'call' | 'int' | 'iret';

const newTss = new Descriptor();
const oldTss = new Descriptor();
const gateTarget = new Descriptor();
const check = new Descriptor();
const cursor = new StackCursor();

/** The new task's state, read completely before anything is committed. */
const incoming = {
  cr3: 0,
  eip: 0,
  eflags: 0,
  regs: new Int32Array(8),
  segs: new Uint16Array(6),
  ldt: 0,
  /** The T bit (32-bit TSS offset 0x64, bit 0). */
  trap: false,
};

/**
 * A task switch through a task gate (INT, or JMP/CALL to a task-gate selector): the gate's TSS
 * selector must name an available TSS in the GDT. Returns false when a fault raised in the new task's
 * context was delivered there (the caller then does nothing more).
 */
export function taskSwitchThroughGate(
  cpu: SystemCpu, tssSelector: number, source: TaskSwitchSource, ext: number, errorCode = -1,
): boolean {
  const error = (tssSelector & 0xfffc) | ext;
  if (tssSelector & 4) throwFault(GP, error);
  if (!readDescriptor(cpu, tssSelector, gateTarget)) throwFault(GP, error);
  const type = gateTarget.type;
  if (gateTarget.isCodeOrData || (type !== TYPE_TSS16_AVAILABLE && type !== TYPE_TSS32_AVAILABLE)) throwFault(GP, error);
  if (!gateTarget.present) throwFault(NP, error);
  return taskSwitch(cpu, tssSelector, gateTarget, source, ext, errorCode);
}

/**
 * Switches to the task whose TSS descriptor `target` (already checked for type, busy state and
 * presence by the caller) selector `selector` names. Faults before the commit point leave the old task
 * intact and propagate; faults after it (loading the new task's LDT and segments, pushing `errorCode`
 * for an exception delivered through a task gate) are delivered in the new task's context here, and
 * the function returns false. A set T bit in a 32-bit TSS raises the #DB trap once the switch is done.
 */
export function taskSwitch(
  cpu: SystemCpu, selector: number, target: Descriptor, source: TaskSwitchSource, ext: number, errorCode = -1,
): boolean {
  const error = (selector & 0xfffc) | ext;
  const new32 = (target.type & 8) !== 0;
  const newBase = target.base;
  if (target.limit < (new32 ? 0x67 : 0x2b)) throwFault(TS, error);
  if (target !== newTss) newTss.copyFrom(target);

  // The outgoing TSS must be able to hold the state about to be saved into it.
  const trError = (cpu.seg[TR] & 0xfffc) | ext;
  const old32 = (cpu.segAccess[TR] & 8) !== 0;
  const oldBase = cpu.segBase[TR] >>> 0;
  if (cpu.segAccess[TR] & UNUSABLE || (cpu.segLimit[TR] >>> 0) < (old32 ? 0x5f : 0x29)) throwFault(TS, trError);
  // JMP and IRET free the outgoing TSS; a TR never loaded since reset (selector 0) has no descriptor.
  const needOldDescriptor = (source === 'jmp' || source === 'iret') && (cpu.seg[TR] & 0xfffc) !== 0;
  if (needOldDescriptor && !readDescriptor(cpu, cpu.seg[TR], oldTss)) throwFault(TS, trError);

  readIncoming(cpu, newBase, new32);

  let eflags = cpu.getEflags();
  if (source === 'jmp' || source === 'iret') eflags &= ~FLAG_NT;
  saveOutgoing(cpu, oldBase, old32, eflags);

  if (needOldDescriptor) setBusy(cpu, oldTss, false);
  if (source !== 'iret') setBusy(cpu, newTss, true);
  if (source === 'call' || source === 'int') {
    cpu.writeLinear16(newBase, cpu.seg[TR], false);
    incoming.eflags |= FLAG_NT;
  }

  // Commit point (SDM 7.3 step 11): from here on, faults belong to the new task.
  cpu.seg[TR] = selector;
  cpu.segBase[TR] = newBase | 0;
  cpu.segLimit[TR] = newTss.limit | 0;
  cpu.segAccess[TR] = newTss.accessRights | 2;
  cpu.cr0 |= CR0_TS;
  let modeChange = false;
  if (new32 && cpu.cr0 & CR0_PG) {
    // Loaded (and the TLB flushed, as by MOV CR3) even when the value is the same.
    cpu.cr3 = incoming.cr3;
    modeChange = true;
  }
  cpu.reg32.set(incoming.regs);
  cpu.eip = incoming.eip;
  const wasV86 = (cpu.getEflags() & FLAG_VM) !== 0;
  cpu.setEflags(incoming.eflags);
  const v86 = (incoming.eflags & FLAG_VM) !== 0;
  if (v86 !== wasV86) modeChange = true;
  for (let reg = ES; reg <= GS; reg++) loadNull(cpu, reg, incoming.segs[reg]);
  loadNull(cpu, LDTR, incoming.ldt);
  cpu.cpl = v86 ? 3 : incoming.segs[CS] & 3;
  if (modeChange) cpu.modeChanged();
  try {
    loadTaskSegments(cpu, v86, ext);
    if (cpu.eip > cpu.segLimit[CS] >>> 0) throwFault(GP, ext);
    if (errorCode >= 0) pushErrorCode(cpu, errorCode, ext);
  } catch (fault) {
    if (!(fault instanceof CpuFault)) throw fault;
    deliverException(cpu, fault.vector, fault.errorCode);
    return false;
  }
  if (incoming.trap) {
    // SDM Vol. 3B 17.3.1.5: a task-switch trap, reported in DR6.BT.
    cpu.dr[6] |= DR6_BT;
    deliverException(cpu, DB);
  }
  return true;
}

/** An exception delivered through a task gate pushes its error code on the new task's stack. */
function pushErrorCode(cpu: SystemCpu, errorCode: number, ext: number): void {
  const size = cpu.segAccess[CS] & 0x4000 ? 4 : 2;
  const oldEsp = cpu.reg32[ESP] >>> 0;
  cursor.openCurrent(cpu, ext);
  cursor.push(errorCode, size);
  cpu.reg32[ESP] = cursor.espFor(oldEsp) | 0;
}

function readIncoming(cpu: SystemCpu, base: number, tss32: boolean): void {
  const at = (offset: number): number => (base + offset) >>> 0;
  if (tss32) {
    incoming.cr3 = cpu.readLinear32(at(0x1c), false) >>> 0;
    incoming.eip = cpu.readLinear32(at(0x20), false) >>> 0;
    incoming.eflags = cpu.readLinear32(at(0x24), false) | 2;
    for (let i = 0; i < 8; i++) incoming.regs[i] = cpu.readLinear32(at(0x28 + 4 * i), false);
    for (let i = 0; i < 6; i++) incoming.segs[i] = cpu.readLinear16(at(0x48 + 4 * i), false);
    incoming.ldt = cpu.readLinear16(at(0x60), false) & 0xffff;
    incoming.trap = (cpu.readLinear16(at(0x64), false) & 1) !== 0;
  } else {
    incoming.cr3 = cpu.cr3;
    incoming.eip = cpu.readLinear16(at(0x0e), false) & 0xffff;
    incoming.eflags = (cpu.readLinear16(at(0x10), false) & 0xffff) | 2;
    // A 16-bit TSS holds only the low words; the upper halves of the registers are kept.
    for (let i = 0; i < 8; i++) {
      incoming.regs[i] = (cpu.reg32[i] & ~0xffff) | (cpu.readLinear16(at(0x12 + 2 * i), false) & 0xffff);
    }
    for (let i = 0; i < 4; i++) incoming.segs[i] = cpu.readLinear16(at(0x22 + 2 * i), false);
    incoming.segs[FS] = 0;
    incoming.segs[GS] = 0;
    incoming.ldt = cpu.readLinear16(at(0x2a), false) & 0xffff;
    incoming.trap = false;
  }
}

function saveOutgoing(cpu: SystemCpu, base: number, tss32: boolean, eflags: number): void {
  const at = (offset: number): number => (base + offset) >>> 0;
  if (tss32) {
    cpu.writeLinear32(at(0x20), cpu.eip, false);
    cpu.writeLinear32(at(0x24), eflags, false);
    for (let i = 0; i < 8; i++) cpu.writeLinear32(at(0x28 + 4 * i), cpu.reg32[i], false);
    for (let i = 0; i < 6; i++) cpu.writeLinear16(at(0x48 + 4 * i), cpu.seg[i], false);
  } else {
    cpu.writeLinear16(at(0x0e), cpu.eip & 0xffff, false);
    cpu.writeLinear16(at(0x10), eflags & 0xffff, false);
    for (let i = 0; i < 8; i++) cpu.writeLinear16(at(0x12 + 2 * i), cpu.reg32[i] & 0xffff, false);
    for (let i = 0; i < 4; i++) cpu.writeLinear16(at(0x22 + 2 * i), cpu.seg[i], false);
  }
}

/** The checks of SDM Vol. 3A 7.3 step 13 and Table 7-1, in the new task's context. */
function loadTaskSegments(cpu: SystemCpu, v86: boolean, ext: number): void {
  const ldt = cpu.seg[LDTR];
  if (ldt & 0xfffc) {
    const error = (ldt & 0xfffc) | ext;
    if (ldt & 4 || !readDescriptor(cpu, ldt, check)) throwFault(TS, error);
    if (check.isCodeOrData || check.type !== TYPE_LDT || !check.present) throwFault(TS, error);
    loadCache(cpu, LDTR, ldt, check);
  }
  if (v86) {
    for (let reg = ES; reg <= GS; reg++) loadRealModeSegment(cpu, reg, cpu.seg[reg], true);
    return;
  }
  const cpl = cpu.cpl;
  const cs = cpu.seg[CS];
  const csError = (cs & 0xfffc) | ext;
  if ((cs & 0xfffc) === 0 || !readDescriptor(cpu, cs, check) || !check.isCode) throwFault(TS, csError);
  if (check.isConforming ? check.dpl > (cs & 3) : check.dpl !== (cs & 3)) throwFault(TS, csError);
  if (!check.present) throwFault(NP, csError);
  markAccessed(cpu, check);
  loadCache(cpu, CS, cs, check);

  const ss = cpu.seg[SS];
  const ssError = (ss & 0xfffc) | ext;
  if ((ss & 0xfffc) === 0 || !readDescriptor(cpu, ss, check)) throwFault(TS, ssError);
  if ((ss & 3) !== cpl || check.dpl !== cpl || !check.isWritableData) throwFault(TS, ssError);
  if (!check.present) throwFault(SS_FAULT, ssError);
  markAccessed(cpu, check);
  loadCache(cpu, SS, ss, check);

  for (const reg of DATA_REGISTERS) {
    const selector = cpu.seg[reg];
    if ((selector & 0xfffc) === 0) continue;
    const error = (selector & 0xfffc) | ext;
    if (!readDescriptor(cpu, selector, check) || !check.isCodeOrData || !check.isReadable) throwFault(TS, error);
    if (!check.isConforming && (check.dpl < cpl || check.dpl < (selector & 3))) throwFault(TS, error);
    if (!check.present) throwFault(NP, error);
    markAccessed(cpu, check);
    loadCache(cpu, reg, selector, check);
  }
}

// Data segment registers in register-number order (ES first), as QEMU loads them; the SDM gives no order.
const DATA_REGISTERS = [ES, DS, FS, GS];
