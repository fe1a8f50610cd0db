import { expect } from 'vitest';
import type { InterruptController } from '@ringvisor/vmm-api';
import { DS, ES, SS, type Cpu } from '../../src/cpu.js';
import { random } from './random.js';
import { createMachine, type TestMachine } from './machine.js';

// The block compiler's differential harness: the same program on a CPU compiling blocks and on one
// interpreting, run in lockstep with the same budgets.

export type Mode = 'real' | 'flat32';

export function le32(v: number): number[] {
  return [v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff, (v >>> 24) & 0xff];
}

export function state(cpu: Cpu): string {
  const s = cpu.stop;
  return `regs=${Array.from(cpu.reg32).join(',')} eip=${cpu.eip} fl=${cpu.getEflags()} seg=${Array.from(cpu.seg).join(',')} ` +
    `retired=${cpu.retired} cr2=${cpu.cr2} halted=${cpu.halted} stop=${s.reason}/${s.vector}/${s.errorCode}/${s.address}/${s.length}`;
}

/** Two machines with the same program: one compiling blocks, one interpreting. */
export function pair(mode: Mode, hotRuns: number, setup: (m: TestMachine) => void, interrupts?: () => InterruptController): [TestMachine, TestMachine] {
  const jit = createMachine(mode, interrupts?.(), true, true);
  const plain = createMachine(mode, interrupts?.(), true, false);
  if (jit.cpu.blockCache === null) throw new Error('no block cache');
  jit.cpu.blockCache.hotRuns = hotRuns;
  jit.cpu.blockCache.inlineRuns = hotRuns;
  expect(plain.cpu.blockCache).toBeNull();
  setup(jit);
  setup(plain);
  return [jit, plain];
}

/** Runs both in lockstep with the same budgets, comparing everything after each run. */
export function lockstep(
  jit: TestMachine, plain: TestMachine, budgets: () => number, runs: number, label: string, between?: (run: number) => void,
  resumeExceptions = false,
): string {
  let reason = '';
  for (let run = 0; run < runs; run++) {
    between?.(run);
    const budget = budgets();
    reason = jit.cpu.run(budget);
    const other = plain.cpu.run(budget);
    expect(reason, `${label} run ${run}`).toBe(other);
    expect(state(jit.cpu), `${label} run ${run}`).toBe(state(plain.cpu));
    if (reason !== 'budget' && !(resumeExceptions && reason === 'exception')) break;
  }
  expect(Buffer.from(jit.memory.ram).equals(Buffer.from(plain.memory.ram)), `${label}: memory`).toBe(true);
  return reason;
}

/**
 * `length` random instructions of the kinds the compiler inlines: registers other than ECX/ESP/ESI as
 * destinations, memory at [ESI+d8] (or [SI+d8]), so a program keeps its loop counter, stack and
 * data pointer. Real mode gets the 16-bit meaning.
 */
export function randomInstructions(next: () => number, mode: Mode, length: number): number[][] {
  const dst = [0, 2, 3, 5, 7];
  const any = [0, 1, 2, 3, 5, 6, 7];
  // Byte registers AL DL BL AH BH: never CH or CL, which count the loop.
  const byteDst = [0, 2, 3, 4, 7];
  const pick = (a: number[]): number => a[next() % a.length];
  const memModrm = (reg: number): number[] => [0x40 | (reg << 3) | (mode === 'flat32' ? 6 : 4), next() & 0x7c];
  const regModrm = (reg: number, rm: number): number[] => [0xc0 | (reg << 3) | rm];
  const e = (reg: number): number[] => (next() & 1 ? memModrm(reg) : regModrm(reg, pick(dst)));
  const eb = (reg: number): number[] => (next() & 1 ? memModrm(reg) : regModrm(reg, pick(byteDst)));
  const iv = (): number[] => le32(next()).slice(0, mode === 'flat32' ? 4 : 2);
  const templates: (() => number[])[] = [
    () => [(next() & 7) << 3 | 1, ...e(pick(any))], //                 ALU Ev, Gv
    () => [(next() & 7) << 3 | 3, ...(next() & 1 ? memModrm(pick(dst)) : regModrm(pick(dst), pick(any)))], // ALU Gv, Ev
    () => [(next() & 7) << 3 | 0, ...eb(pick([0, 1, 2, 3, 4, 6]))], // ALU Eb, Gb
    () => [0x66, (next() & 7) << 3 | 1, ...e(pick(any))], //          16/32-bit the other way
    () => [0x83, ...e(next() & 7), next() & 0xff], //                  ALU Ev, Ib
    () => [0x81, ...e(next() & 7), ...iv()], //                          ALU Ev, Iv
    () => [(next() & 7) << 3 | 5, ...iv()], //                           ALU eAX, Iv
    () => [0x89, ...e(pick(any))],
    () => [0x8b, ...(next() & 1 ? memModrm(pick(dst)) : regModrm(pick(dst), pick(any)))],
    () => [0x88, ...eb(pick([0, 1, 2, 3, 4, 6]))],
    () => [0xc7, ...memModrm(0), ...iv()],
    () => [0xb8 + pick(dst), ...iv()],
    () => (mode === 'flat32' ? [0x8d, 0x44 | (pick(dst) << 3), 0x96, next() & 0xff] : [0x8d, 0x40 | (pick(dst) << 3), next() & 0xff]),
    () => [0x40 + pick(dst)],
    () => [0x48 + pick(dst)],
    () => [0xff, ...memModrm(next() & 1)], //                           INC/DEC Ev (memory)
    () => [0x50 + pick(any), 0x58 + pick(dst)], //                      PUSH / POP
    () => [0x6a, next() & 0xff, 0x58 + pick(dst)], //                   PUSH Ib / POP
    () => [0x85, ...e(pick(any))],
    () => [0xa9, ...iv()],
    () => [0x0f, pick([0xb6, 0xb7, 0xbe, 0xbf]), ...(next() & 1 ? memModrm(pick(dst)) : regModrm(pick(dst), pick(any)))],
    () => [0xc1, ...e(pick([0, 1, 2, 3, 4, 5, 7])), next() & 0x1f], // shifts and rotates
    () => [0xd3, ...e(pick([4, 5, 7]))], //                              by CL
    () => [0xd1, ...e(pick([0, 2, 4, 5, 7]))],
    () => [0x0f, 0xaf, ...(next() & 1 ? memModrm(pick(dst)) : regModrm(pick(dst), pick(any)))],
    () => [0x6b, ...regModrm(pick(dst), pick(any)), next() & 0xff],
    () => [0x0f, 0x90 + (next() & 15), ...eb(0)],
    () => [0x0f, 0x40 + (next() & 15), ...(next() & 1 ? memModrm(pick(dst)) : regModrm(pick(dst), pick(any)))],
    () => [0x87, ...(next() & 1 ? memModrm(pick(dst)) : regModrm(pick(dst), pick(dst)))],
    () => [0x90 + pick([2, 3, 5, 7])],
    () => [pick([0x98, 0x99])],
    () => [0xf7, ...e(pick([2, 3]))], //                                 NOT / NEG
    () => [0xf7, ...regModrm(4, pick(any))], //                          MUL (EDX:EAX)
    () => [0xf6, ...eb(0), next() & 0xff], //                            TEST Eb, Ib
  ];
  const body: number[][] = [];
  for (let i = 0; i < length; i++) body.push(templates[next() % templates.length]());
  return body;
}

/** Loads a loop program: ECX 300 laps, ESI at 256 bytes of `data` (0x3000), every exception intercepted. */
export function setupLoop(mode: Mode, code: number[], regs: number[], data: Uint8Array) {
  return (m: TestMachine): void => {
    m.load(code);
    m.memory.writeBytes(0x3000, data);
    regs.forEach((v, r) => (m.cpu.reg32[r] = v));
    m.cpu.reg32[1] = 300; // ECX: iterations
    m.cpu.reg32[4] = mode === 'flat32' ? 0x80000 : 0x8000;
    m.cpu.reg32[6] = 0x3000; // ESI: the data
    if (mode === 'real') for (const s of [DS, ES, SS]) m.cpu.loadRealSegment(s, 0);
    m.cpu.intercepts.exceptions = -1;
  };
}

/** An interrupt controller raising vector 8 on every `every`-th poll, until acknowledged. */
export function pollingController(every: number): InterruptController {
  let polls = 0;
  let raised = false;
  return {
    pending: () => raised || (raised = ++polls % every === 0),
    acknowledge: () => ((raised = false), 8),
  };
}

/** A real-mode handler for vector 8 at 0:0x2000 that counts in the word at 0x600 and returns. */
export function countingHandler(m: TestMachine): void {
  m.memory.writeBytes(8 * 4, Uint8Array.from([0x00, 0x20, 0x00, 0x00]));
  m.memory.writeBytes(0x2000, Uint8Array.from([0xff, 0x06, 0x00, 0x06, 0xcf])); // inc word [0x600]; iret
}

/**
 * A real-mode loop `load` puts in memory (CX counts 30000 laps; a store through ES = 0xffff lands
 * past RAM, so the CPU polls the controller after it) run with IF set, compiled and interpreted in
 * lockstep, the controller raising vector 8 every `every` polls: the interrupts must be taken at the
 * same instructions.
 */
export function interruptedLoop(load: (m: TestMachine) => void, hotRuns: number, every: number, seed: number): void {
  const setup = (m: TestMachine): void => {
    countingHandler(m);
    load(m);
    m.cpu.loadRealSegment(ES, 0xffff);
    m.cpu.reg32[1] = 30000;
    m.cpu.setEflags(0x202);
  };
  const [jit, plain] = pair('real', hotRuns, setup, () => pollingController(every));
  const next = random(seed);
  lockstep(jit, plain, () => 1 + (next() % 2000), 1000, 'irq');
  expect(jit.memory.read16(0x600)).toBeGreaterThan(1000);
  expect(jit.cpu.blockCache?.compiled).toBeGreaterThan(0);
}
