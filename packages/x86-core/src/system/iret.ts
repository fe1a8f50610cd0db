import { throwFault } from '../fault.js';
import {
  CS, DS, ES, ESP, FLAG_AC, FLAG_ID, FLAG_IF, FLAG_IOPL, FLAG_NT, FLAG_RF, FLAG_TF, FLAG_VIF, FLAG_VIP, FLAG_VM,
  FS, GS, SS, TR, iopl, isProtected, type SystemCpu,
} from './cpu-view.js';
import {
  Descriptor, TYPE_TSS16_BUSY, TYPE_TSS32_BUSY, loadCache, loadRealModeSegment, markAccessed, readDescriptor,
} from './descriptor.js';
import { checkOuterStack, checkReturnCode, nullInaccessibleDataSegments } from './far-transfer.js';
import { StackCursor } from './stack.js';
import { taskSwitch } from './task-switch.js';
import { GP, NP, TS } from './vectors.js';

const code = new Descriptor();
const stackSeg = new Descriptor();
const task = new Descriptor();
const cursor = new StackCursor();

/** Arithmetic flags plus TF, DF, NT, RF, AC, ID: what every protected-mode IRET may load. */
const IRET_ALWAYS = 0x0dd5 | FLAG_TF | FLAG_NT | FLAG_RF | FLAG_AC | FLAG_ID;

/** IRET/IRETD in every mode (SDM Vol. 2 "IRET"). */
export function interruptReturn(cpu: SystemCpu, opSize32: boolean): void {
  const size = opSize32 ? 4 : 2;
  const eflags = cpu.getEflags();
  const oldEsp = cpu.reg32[ESP] >>> 0;
  if (!isProtected(cpu)) {
    cursor.openCurrent(cpu, 0);
    const eip = cursor.pop(size);
    const cs = cursor.pop(size) & 0xffff;
    const flags = cursor.pop(size) & cpu.traits.realModeFlagsMask;
    if (eip > cpu.segLimit[CS] >>> 0) throwFault(GP, 0);
    cpu.reg32[ESP] = cursor.espFor(oldEsp) | 0;
    const keep = opSize32 ? FLAG_VM | FLAG_VIP | FLAG_VIF : ~0xffff;
    cpu.setEflags((flags & ~keep) | (eflags & keep) | 2);
    loadRealModeSegment(cpu, CS, cs, false);
    cpu.eip = eip;
    return;
  }
  if (eflags & FLAG_VM) {
    returnWithinV86(cpu, size, eflags, oldEsp);
    return;
  }
  if (eflags & FLAG_NT) {
    returnToTask(cpu);
    return;
  }
  cursor.openCurrent(cpu, 0);
  let eip = cursor.pop(size);
  const selector = cursor.pop(size) & 0xffff;
  const flags = cursor.pop(size);
  if (opSize32 && flags & FLAG_VM && cpu.cpl === 0) {
    returnToV86(cpu, eip, selector, flags);
    return;
  }
  const rpl = selector & 3;
  checkReturnCode(cpu, selector, code);
  if (!opSize32) eip &= 0xffff;

  let newEsp: number;
  if (rpl > cpu.cpl) {
    const esp = cursor.pop(size);
    const ss = cursor.pop(size) & 0xffff;
    checkOuterStack(cpu, ss, rpl, stackSeg);
    if (eip > code.limit) throwFault(GP, 0);
    // The accessed-bit writes may still fault (#PF): they come before any register changes.
    markAccessed(cpu, code);
    markAccessed(cpu, stackSeg);
    loadCache(cpu, SS, ss, stackSeg);
    newEsp = opSize32 ? esp : esp & 0xffff;
    // A 16-bit stack segment keeps ESP's upper half from before the return.
    if (!(stackSeg.hi & 0x400000)) newEsp = ((oldEsp & ~0xffff) | (newEsp & 0xffff)) >>> 0;
  } else {
    if (eip > code.limit) throwFault(GP, 0);
    markAccessed(cpu, code);
    newEsp = cursor.espFor(oldEsp);
  }
  let mask = IRET_ALWAYS;
  if (cpu.cpl <= iopl(cpu)) mask |= FLAG_IF;
  if (cpu.cpl === 0) mask |= FLAG_IOPL | (opSize32 ? FLAG_VIF | FLAG_VIP : 0);
  if (!opSize32) mask &= 0xffff;
  cpu.setEflags((flags & mask) | (eflags & ~mask) | 2);
  cpu.reg32[ESP] = newEsp | 0;
  const outer = rpl > cpu.cpl;
  cpu.cpl = rpl;
  loadCache(cpu, CS, selector, code);
  cpu.eip = eip;
  if (outer) nullInaccessibleDataSegments(cpu);
}

/** IRET in v86 mode with IOPL 3 stays in v86 mode and may not change IOPL (SDM Vol. 3A 20.2.7). */
function returnWithinV86(cpu: SystemCpu, size: 2 | 4, eflags: number, oldEsp: number): void {
  if (iopl(cpu) < 3) throwFault(GP, 0);
  cursor.openCurrent(cpu, 0);
  const eip = cursor.pop(size);
  const cs = cursor.pop(size) & 0xffff;
  const flags = cursor.pop(size);
  if (eip > 0xffff) throwFault(GP, 0);
  let keep = FLAG_VM | FLAG_IOPL | FLAG_VIP | FLAG_VIF | FLAG_RF;
  if (size === 2) keep |= ~0xffff;
  cpu.setEflags((flags & ~keep) | (eflags & keep) | 2);
  cpu.reg32[ESP] = cursor.espFor(oldEsp) | 0;
  loadRealModeSegment(cpu, CS, cs, true);
  cpu.eip = eip;
}

/** IRETD at CPL 0 with VM set in the popped EFLAGS: the frame also holds ESP, SS, ES, DS, FS, GS. */
function returnToV86(cpu: SystemCpu, eip: number, cs: number, flags: number): void {
  const esp = cursor.pop(4);
  const ss = cursor.pop(4) & 0xffff;
  const es = cursor.pop(4) & 0xffff;
  const ds = cursor.pop(4) & 0xffff;
  const fs = cursor.pop(4) & 0xffff;
  const gs = cursor.pop(4) & 0xffff;
  cpu.setEflags(flags | 2);
  cpu.cpl = 3;
  loadRealModeSegment(cpu, ES, es, true);
  loadRealModeSegment(cpu, DS, ds, true);
  loadRealModeSegment(cpu, FS, fs, true);
  loadRealModeSegment(cpu, GS, gs, true);
  loadRealModeSegment(cpu, SS, ss, true);
  loadRealModeSegment(cpu, CS, cs, true);
  cpu.reg32[ESP] = esp | 0;
  cpu.eip = eip & 0xffff;
  cpu.modeChanged();
}

/** IRET with NT set returns to the task named by the back link of the current TSS (SDM 7.4). */
function returnToTask(cpu: SystemCpu): void {
  const link = cpu.readLinear16(cpu.segBase[TR] >>> 0, false) & 0xffff;
  const error = link & 0xfffc;
  if (link & 4 || !readDescriptor(cpu, link, task)) throwFault(TS, error);
  const type = task.type;
  if (task.isCodeOrData || (type !== TYPE_TSS16_BUSY && type !== TYPE_TSS32_BUSY)) throwFault(TS, error);
  if (!task.present) throwFault(NP, error);
  taskSwitch(cpu, link, task, 'iret', 0);
}
