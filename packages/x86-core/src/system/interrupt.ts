import { CpuFault, throwFault } from '../fault.js';
import {
  CS, DS, ES, ESP, FLAG_AC, FLAG_IF, FLAG_NT, FLAG_RF, FLAG_TF, FLAG_VM, FS, GS, SS,
  iopl, isProtected, type SystemCpu,
} from './cpu-view.js';
import {
  Descriptor, TYPE_INTERRUPT_GATE16, TYPE_INTERRUPT_GATE32, TYPE_TASK_GATE, TYPE_TRAP_GATE16, TYPE_TRAP_GATE32,
  loadCache, loadNull, markAccessed, readDescriptor,
} from './descriptor.js';
import { StackCursor } from './stack.js';
import { checkInnerStack } from './stack-switch.js';
import { taskSwitchThroughGate } from './task-switch.js';
import { TripleFault } from './triple-fault.js';
import { DE, DF, ERR_EXT, GP, NP, PF, TS, pushesErrorCode } from './vectors.js';
import { innerStack } from './tss.js';
import { deliverLong } from '../long/interrupt.js';
import type { Cpu } from '../cpu.js';

/** IA32_EFER.LMA: events go through the 64-bit IDT. */
const EFER_LMA = 1 << 10;

/**
 * How an event arrived. Software INT n, INT3 and INTO are checked against the gate's DPL and (in v86
 * mode) IOPL; external interrupts and exceptions are not, and set EXT in the error codes of faults
 * raised while they are delivered (SDM Vol. 3A 6.12.1.1, 6.13).
 */
export type InterruptKind = 'external' | 'software' | 'exception' | 'int3' | 'into' | 'icebp';

const gate = new Descriptor();
const code = new Descriptor();
const stackSeg = new Descriptor();
const cursor = new StackCursor();

/**
 * Delivers an interrupt or exception in any mode. Faults raised while delivering an external event or
 * an exception are handled here (serially, as #DF, or as a triple fault per SDM Table 6-5); faults
 * delivering software interrupts propagate, because they are faults of the INT instruction itself.
 */
export function deliverInterrupt(cpu: SystemCpu, vector: number, kind: InterruptKind, errorCode = 0): void {
  if (kind === 'external' || kind === 'exception') deliverWithEscalation(cpu, vector, kind, errorCode);
  else deliver(cpu, vector, kind, errorCode, 0);
}

/** The run loop's entry for a `CpuFault` caught from an instruction (EIP already rolled back). */
export function deliverException(cpu: SystemCpu, vector: number, errorCode = 0): void {
  deliverWithEscalation(cpu, vector, 'exception', errorCode);
}

/** Benign (0), contributory (1) or page fault (2) class, SDM Vol. 3A Table 6-4. */
function exceptionClass(vector: number): number {
  if (vector === PF) return 2;
  return vector === DE || (vector >= TS && vector <= GP) ? 1 : 0;
}

function deliverWithEscalation(cpu: SystemCpu, vector: number, kind: InterruptKind, errorCode: number): void {
  for (;;) {
    try {
      deliver(cpu, vector, kind, errorCode, ERR_EXT);
      return;
    } catch (fault) {
      if (!(fault instanceof CpuFault)) throw fault;
      if (vector === DF && kind === 'exception') throw new TripleFault(fault.vector);
      const first = kind === 'exception' ? exceptionClass(vector) : 0;
      const second = exceptionClass(fault.vector);
      if ((first === 1 && second === 1) || (first === 2 && second !== 0)) {
        vector = DF;
        errorCode = 0;
      } else {
        vector = fault.vector;
        errorCode = fault.errorCode;
      }
      kind = 'exception';
    }
  }
}

function deliver(cpu: SystemCpu, vector: number, kind: InterruptKind, errorCode: number, ext: number): void {
  const hasErrorCode = kind === 'exception' && pushesErrorCode(vector);
  if (!isProtected(cpu)) {
    deliverRealMode(cpu, vector, ext);
    return;
  }
  if ((cpu.efer & EFER_LMA) !== 0) {
    deliverLong(cpu as Cpu, vector, kind, errorCode, ext);
    return;
  }
  const eflags = cpu.getEflags();
  const v86 = (eflags & FLAG_VM) !== 0;
  const software = kind === 'software' || kind === 'int3' || kind === 'into';
  // Without VME, INT n (not INT3 or INTO) in v86 mode is IOPL-sensitive (SDM Vol. 2 "INT n", Operation).
  if (v86 && kind === 'software' && iopl(cpu) < 3) throwFault(GP, 0);

  const gateError = vector * 8 + 2 + ext;
  if (vector * 8 + 7 > cpu.idtrLimit >>> 0) throwFault(GP, gateError);
  gate.address = (cpu.idtrBase + vector * 8) >>> 0;
  gate.lo = cpu.readLinear32(gate.address, false);
  gate.hi = cpu.readLinear32((gate.address + 4) >>> 0, false);
  const type = gate.type;
  if (
    gate.isCodeOrData ||
    (type !== TYPE_TASK_GATE && type !== TYPE_INTERRUPT_GATE16 && type !== TYPE_TRAP_GATE16 &&
      type !== TYPE_INTERRUPT_GATE32 && type !== TYPE_TRAP_GATE32)
  ) {
    throwFault(GP, gateError);
  }
  if (software && gate.dpl < cpu.cpl) throwFault(GP, vector * 8 + 2);
  if (!gate.present) throwFault(NP, gateError);

  if (type === TYPE_TASK_GATE) {
    taskSwitchThroughGate(cpu, gate.gateSelector, 'int', ext, hasErrorCode ? errorCode >>> 0 : -1);
    return;
  }

  const selector = gate.gateSelector;
  const csError = (selector & 0xfffc) | ext;
  if ((selector & 0xfffc) === 0) throwFault(GP, ext);
  if (!readDescriptor(cpu, selector, code)) throwFault(GP, csError);
  if (!code.isCode || code.dpl > cpu.cpl) throwFault(GP, csError);
  if (!code.present) throwFault(NP, csError);

  const size = type & 8 ? 4 : 2;
  const offset = size === 4 ? gate.gateOffset : gate.gateOffset & 0xffff;
  const oldCpl = cpu.cpl;
  let newCpl: number;
  let newSs = 0;
  let newEsp = 0;
  const oldEsp = cpu.reg32[ESP] >>> 0;
  if (!code.isConforming && code.dpl < oldCpl) {
    if (v86 && code.dpl !== 0) throwFault(GP, csError);
    newCpl = code.dpl;
    const stack = innerStack(cpu, newCpl, ext);
    newSs = stack.ss;
    newEsp = stack.esp;
    checkInnerStack(cpu, newSs, newCpl, stackSeg, ext);
    cursor.openDescriptor(cpu, stackSeg, stack.esp, newCpl, (newSs & 0xfffc) | ext);
    if (v86) {
      cursor.push(cpu.seg[GS], size);
      cursor.push(cpu.seg[FS], size);
      cursor.push(cpu.seg[DS], size);
      cursor.push(cpu.seg[ES], size);
    }
    cursor.push(cpu.seg[SS], size);
    cursor.push(oldEsp, size);
  } else if (code.isConforming || code.dpl === oldCpl) {
    if (v86) throwFault(GP, csError);
    newCpl = oldCpl;
    cursor.openCurrent(cpu, ext);
  } else {
    throwFault(GP, csError);
  }
  cursor.push(eflags, size);
  cursor.push(cpu.seg[CS], size);
  cursor.push(cpu.eip, size);
  if (hasErrorCode) cursor.push(errorCode, size);
  if (offset > code.limit) throwFault(GP, ext);

  // Commit. Only the accessed-bit writes can still fault (#PF), and they come before any register.
  markAccessed(cpu, code);
  if (newCpl !== oldCpl) {
    markAccessed(cpu, stackSeg);
    loadCache(cpu, SS, (newSs & 0xfffc) | newCpl, stackSeg);
    cpu.reg32[ESP] = cursor.espFor(newEsp) | 0;
    if (v86) {
      loadNull(cpu, GS, 0);
      loadNull(cpu, FS, 0);
      loadNull(cpu, DS, 0);
      loadNull(cpu, ES, 0);
    }
  } else {
    cpu.reg32[ESP] = cursor.espFor(oldEsp) | 0;
  }
  cpu.cpl = newCpl;
  let newFlags = eflags & ~(FLAG_TF | FLAG_NT | FLAG_RF | FLAG_VM);
  if ((type & 1) === 0) newFlags &= ~FLAG_IF;
  cpu.setEflags(newFlags);
  loadCache(cpu, CS, (selector & 0xfffc) | newCpl, code);
  cpu.eip = offset;
  if (v86) cpu.modeChanged();
}

/** Real-address mode: the IVT holds 4-byte IP:CS vectors; FLAGS, CS, IP are pushed (SDM Vol. 3A 20.1.4). */
function deliverRealMode(cpu: SystemCpu, vector: number, ext: number): void {
  if (vector * 4 + 3 > cpu.idtrLimit >>> 0) throwFault(GP, ext);
  const entry = (cpu.idtrBase + vector * 4) >>> 0;
  const ip = cpu.readLinear16(entry, false) & 0xffff;
  const cs = cpu.readLinear16((entry + 2) >>> 0, false) & 0xffff;
  const eflags = cpu.getEflags();
  const oldEsp = cpu.reg32[ESP] >>> 0;
  cursor.openCurrent(cpu, 0);
  cursor.push(eflags, 2);
  cursor.push(cpu.seg[CS], 2);
  cursor.push(cpu.eip, 2);
  cpu.reg32[ESP] = cursor.espFor(oldEsp) | 0;
  cpu.setEflags(eflags & ~(FLAG_IF | FLAG_TF | FLAG_AC | FLAG_RF));
  cpu.seg[CS] = cs;
  cpu.segBase[CS] = cs << 4;
  cpu.codeSizeChanged();
  cpu.eip = ip;
}
