import type { Cpu } from '../cpu.js';
import { throwFault } from '../fault.js';
import { farCallOrJump64 } from '../long/far-transfer.js';
import { CS, DS, ES, ESP, FS, GS, SS, isProtected, isV86, type SystemCpu } from './cpu-view.js';
import {
  Descriptor, TYPE_CALL_GATE16, TYPE_CALL_GATE32, TYPE_TASK_GATE, TYPE_TSS16_AVAILABLE, TYPE_TSS32_AVAILABLE,
  UNUSABLE, loadCache, loadNull, loadRealModeSegment, markAccessed, readDescriptor, readDescriptorOrGp,
} from './descriptor.js';
import { StackCursor } from './stack.js';
import { checkInnerStack } from './stack-switch.js';
import { taskSwitch, taskSwitchThroughGate } from './task-switch.js';
import { innerStack } from './tss.js';
import { GP, NP, SS_FAULT } from './vectors.js';

const DATA_REGISTERS = [ES, DS, FS, GS];
/** IA32_EFER.LMA: in compatibility mode system descriptors are IA-32e's (64-bit call gates, no tasks). */
const EFER_LMA = 1 << 10;
const target = new Descriptor();
const code = new Descriptor();
const stackSeg = new Descriptor();
const cursor = new StackCursor();
const oldStack = new StackCursor();

/** JMP ptr16:16/32 and JMP m16:16/32 (SDM Vol. 2 "JMP", far jumps). */
export function farJump(cpu: SystemCpu, selector: number, offset: number, opSize32: boolean): void {
  selector &= 0xffff;
  offset = opSize32 ? offset >>> 0 : offset & 0xffff;
  if (!isProtected(cpu) || isV86(cpu)) {
    jumpRealMode(cpu, selector, offset);
    return;
  }
  const error = selector & 0xfffc;
  if (error === 0) throwFault(GP, 0);
  readDescriptorOrGp(cpu, selector, target, 0);
  if (target.isCodeOrData) {
    checkDirectCode(cpu, selector, target);
    commitSamePrivilege(cpu, selector, target, offset);
    return;
  }
  throughSystemDescriptor(cpu, selector, 'jmp');
}

function jumpThroughGate(cpu: SystemCpu, gate: Descriptor): void {
  const codeSelector = gateCode(cpu, gate);
  if (code.isConforming ? code.dpl > cpu.cpl : code.dpl !== cpu.cpl) throwFault(GP, codeSelector & 0xfffc);
  if (!code.present) throwFault(NP, codeSelector & 0xfffc);
  const offset = gate.type === TYPE_CALL_GATE32 ? gate.gateOffset : gate.gateOffset & 0xffff;
  commitSamePrivilege(cpu, codeSelector, code, offset);
}

/** Far JMP/CALL to a call gate, a TSS or a task gate (already read into `target`). */
function throughSystemDescriptor(cpu: SystemCpu, selector: number, source: 'jmp' | 'call'): void {
  if ((cpu.efer & EFER_LMA) !== 0) {
    farCallOrJump64(cpu as Cpu, selector, 0, 0, 8, source === 'call' ? cpu.eip >>> 0 : -1);
    return;
  }
  const error = selector & 0xfffc;
  const type = target.type;
  if (
    type !== TYPE_CALL_GATE16 && type !== TYPE_CALL_GATE32 && type !== TYPE_TSS16_AVAILABLE &&
    type !== TYPE_TSS32_AVAILABLE && type !== TYPE_TASK_GATE
  ) {
    throwFault(GP, error);
  }
  checkGate(cpu, target, selector & 3, error);
  if (type === TYPE_CALL_GATE16 || type === TYPE_CALL_GATE32) {
    if (source === 'jmp') jumpThroughGate(cpu, target);
    else callThroughGate(cpu, target);
  } else if (type === TYPE_TASK_GATE) {
    taskSwitchThroughGate(cpu, target.gateSelector, source, 0);
  } else {
    taskSwitch(cpu, selector, target, source, 0);
  }
}

/** CALL ptr16:16/32 and CALL m16:16/32, including call gates to inner rings (SDM Vol. 3A 5.8.5). */
export function farCall(cpu: SystemCpu, selector: number, offset: number, opSize32: boolean): void {
  selector &= 0xffff;
  offset = opSize32 ? offset >>> 0 : offset & 0xffff;
  const size = opSize32 ? 4 : 2;
  const oldEsp = cpu.reg32[ESP] >>> 0;
  if (!isProtected(cpu) || isV86(cpu)) {
    if (offset > cpu.segLimit[CS] >>> 0) throwFault(GP, 0);
    cursor.openCurrent(cpu, 0);
    cursor.push(cpu.seg[CS], size);
    cursor.push(cpu.eip, size);
    cpu.reg32[ESP] = cursor.espFor(oldEsp) | 0;
    jumpRealMode(cpu, selector, offset);
    return;
  }
  const error = selector & 0xfffc;
  if (error === 0) throwFault(GP, 0);
  readDescriptorOrGp(cpu, selector, target, 0);
  if (target.isCodeOrData) {
    checkDirectCode(cpu, selector, target);
    cursor.openCurrent(cpu, 0);
    cursor.push(cpu.seg[CS], size);
    cursor.push(cpu.eip, size);
    if (offset > target.limit) throwFault(GP, 0);
    cpu.reg32[ESP] = cursor.espFor(oldEsp) | 0;
    commitSamePrivilege(cpu, selector, target, offset);
    return;
  }
  throughSystemDescriptor(cpu, selector, 'call');
}

function callThroughGate(cpu: SystemCpu, gate: Descriptor): void {
  const codeSelector = gateCode(cpu, gate);
  const csError = codeSelector & 0xfffc;
  if (!code.present) throwFault(NP, csError);
  const size = gate.type === TYPE_CALL_GATE32 ? 4 : 2;
  const offset = size === 4 ? gate.gateOffset : gate.gateOffset & 0xffff;
  const oldCpl = cpu.cpl;
  const oldEsp = cpu.reg32[ESP] >>> 0;
  if (!code.isConforming && code.dpl < oldCpl) {
    const newCpl = code.dpl;
    const stack = innerStack(cpu, newCpl, 0);
    const newSs = stack.ss;
    const newEsp = stack.esp;
    checkInnerStack(cpu, newSs, newCpl, stackSeg, 0);
    cursor.openDescriptor(cpu, stackSeg, newEsp, newCpl, newSs & 0xfffc);
    cursor.push(cpu.seg[SS], size);
    cursor.push(oldEsp, size);
    // Parameters keep their order: the one deepest in the caller's stack is pushed first.
    oldStack.openCurrent(cpu, 0);
    for (let i = gate.gateParamCount - 1; i >= 0; i--) cursor.push(oldStack.peek(i * size, size), size);
    cursor.push(cpu.seg[CS], size);
    cursor.push(cpu.eip, size);
    if (offset > code.limit) throwFault(GP, 0);
    // The accessed-bit writes may still fault (#PF): they come before any register changes.
    markAccessed(cpu, code);
    markAccessed(cpu, stackSeg);
    loadCache(cpu, SS, (newSs & 0xfffc) | newCpl, stackSeg);
    cpu.reg32[ESP] = cursor.espFor(newEsp) | 0;
    cpu.cpl = newCpl;
    loadCache(cpu, CS, (codeSelector & 0xfffc) | newCpl, code);
    cpu.eip = offset;
  } else if (code.isConforming || code.dpl === oldCpl) {
    cursor.openCurrent(cpu, 0);
    cursor.push(cpu.seg[CS], size);
    cursor.push(cpu.eip, size);
    if (offset > code.limit) throwFault(GP, 0);
    cpu.reg32[ESP] = cursor.espFor(oldEsp) | 0;
    commitSamePrivilege(cpu, codeSelector, code, offset);
  } else {
    throwFault(GP, csError);
  }
}

/** RET far / RET far imm16 (SDM Vol. 2 "RET"): same level, or outer level with a stack switch. */
export function farReturn(cpu: SystemCpu, opSize32: boolean, popBytes: number): void {
  const size = opSize32 ? 4 : 2;
  const oldEsp = cpu.reg32[ESP] >>> 0;
  cursor.openCurrent(cpu, 0);
  let offset = cursor.pop(size);
  const selector = cursor.pop(size) & 0xffff;
  if (!isProtected(cpu) || isV86(cpu)) {
    if (offset > cpu.segLimit[CS] >>> 0) throwFault(GP, 0);
    cursor.skip(popBytes);
    cpu.reg32[ESP] = cursor.espFor(oldEsp) | 0;
    jumpRealMode(cpu, selector, offset);
    return;
  }
  const rpl = selector & 3;
  checkReturnCode(cpu, selector, code);
  if (!opSize32) offset &= 0xffff;
  if (rpl === cpu.cpl) {
    if (offset > code.limit) throwFault(GP, 0);
    cursor.skip(popBytes);
    cpu.reg32[ESP] = cursor.espFor(oldEsp) | 0;
    commitSamePrivilege(cpu, selector, code, offset);
    return;
  }
  cursor.skip(popBytes);
  const esp = cursor.pop(size);
  const ss = cursor.pop(size) & 0xffff;
  checkOuterStack(cpu, ss, rpl, stackSeg);
  if (offset > code.limit) throwFault(GP, 0);
  markAccessed(cpu, code);
  markAccessed(cpu, stackSeg);
  cpu.cpl = rpl;
  loadCache(cpu, CS, selector, code);
  cpu.eip = offset;
  loadCache(cpu, SS, ss, stackSeg);
  cursor.openDescriptor(cpu, stackSeg, esp, rpl, 0);
  cursor.skip(popBytes);
  cpu.reg32[ESP] = cursor.espFor(esp) | 0;
  nullInaccessibleDataSegments(cpu);
}

/**
 * The CS popped by RET far or IRET: a present code segment at the return RPL, never more privileged
 * than CPL (#GP(selector), #NP(selector)); conforming code may have a lower DPL than the RPL.
 */
export function checkReturnCode(cpu: SystemCpu, selector: number, into: Descriptor): void {
  const error = selector & 0xfffc;
  const rpl = selector & 3;
  if (error === 0) throwFault(GP, 0);
  readDescriptorOrGp(cpu, selector, into, 0);
  if (!into.isCode || rpl < cpu.cpl) throwFault(GP, error);
  if (into.isConforming ? into.dpl > rpl : into.dpl !== rpl) throwFault(GP, error);
  if (!into.present) throwFault(NP, error);
}

/**
 * The SS popped when returning to an outer level (RET far, IRET): #GP(selector) unless it is a
 * writable data segment at the return CPL (its RPL checked before its descriptor is read), #SS(selector)
 * when not present.
 */
export function checkOuterStack(cpu: SystemCpu, selector: number, rpl: number, into: Descriptor): void {
  const error = selector & 0xfffc;
  if (error === 0) throwFault(GP, 0);
  if ((selector & 3) !== rpl) throwFault(GP, error);
  readDescriptorOrGp(cpu, selector, into, 0);
  if (!into.isWritableData || into.dpl !== rpl) throwFault(GP, error);
  if (!into.present) throwFault(SS_FAULT, error);
}

/**
 * After a return to an outer level, DS/ES/FS/GS that the new CPL may not use are nulled
 * (SDM Vol. 2 "RET": data or non-conforming code segments with DPL < CPL).
 */
export function nullInaccessibleDataSegments(cpu: SystemCpu): void {
  for (const reg of DATA_REGISTERS) {
    const access = cpu.segAccess[reg];
    if (access & UNUSABLE) continue;
    const conformingCode = (access & 0x1c) === 0x1c;
    if (!conformingCode && ((access >>> 5) & 3) < cpu.cpl) loadNull(cpu, reg, 0);
  }
}

/** A direct far JMP/CALL to a code segment: no privilege change is possible (SDM 5.8.1, 5.8.2). */
function checkDirectCode(cpu: SystemCpu, selector: number, d: Descriptor): void {
  const error = selector & 0xfffc;
  if (!d.isCode) throwFault(GP, error);
  if (d.isConforming ? d.dpl > cpu.cpl : (selector & 3) > cpu.cpl || d.dpl !== cpu.cpl) throwFault(GP, error);
  if (!d.present) throwFault(NP, error);
}

/** Gate or TSS reached by selector: DPL must admit both CPL and RPL; #NP when not present. */
function checkGate(cpu: SystemCpu, d: Descriptor, rpl: number, error: number): void {
  if (d.dpl < cpu.cpl || d.dpl < rpl) throwFault(GP, error);
  if (!d.present) throwFault(NP, error);
}

/** Reads and type-checks the code segment a call gate names into `code`; returns its selector. */
function gateCode(cpu: SystemCpu, gate: Descriptor): number {
  const selector = gate.gateSelector;
  if ((selector & 0xfffc) === 0) throwFault(GP, 0);
  if (!readDescriptor(cpu, selector, code)) throwFault(GP, selector & 0xfffc);
  if (!code.isCode || code.dpl > cpu.cpl) throwFault(GP, selector & 0xfffc);
  return selector;
}

/** Real-address and v86 mode: CS is a paragraph number; only the offset is checked (against CS's limit). */
function jumpRealMode(cpu: SystemCpu, selector: number, offset: number): void {
  if (offset > cpu.segLimit[CS] >>> 0) throwFault(GP, 0);
  loadRealModeSegment(cpu, CS, selector, isV86(cpu));
  cpu.eip = offset;
}

function commitSamePrivilege(cpu: SystemCpu, selector: number, d: Descriptor, offset: number): void {
  if (offset > d.limit) throwFault(GP, 0);
  markAccessed(cpu, d);
  loadCache(cpu, CS, (selector & 0xfffc) | cpu.cpl, d);
  cpu.eip = offset;
}
