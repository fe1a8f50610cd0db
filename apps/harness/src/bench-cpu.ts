// `harness bench cpu`: x86-core's speed on a compute-bound guest loop (bench/cpu-loop.S: loads,
// stores, arithmetic, branches, calls) in 32-bit flat protected mode, through strategy `none` as a
// VMM drives it: first interpreting every instruction, then with hot blocks compiled (the default).
// Last line: `x86-core: N MIPS` (compiled blocks, best window).
import { readFileSync } from 'node:fs';
import type { ExitReason, ExitStats, IoBus, MmioBus, SegmentState } from '@ringvisor/vmm-api';
import { createNoneStrategy } from '@ringvisor/x86-core';

const LOAD_ADDRESS = 0x10000;
const SECONDS = 3;
const WINDOWS = 6;
const SLICE = 1_000_000;

const FLAT_CODE: SegmentState = { selector: 0x08, base: 0, limit: 0xffffffff, access: 0xc09b };
const FLAT_DATA: SegmentState = { selector: 0x10, base: 0, limit: 0xffffffff, access: 0xc093 };
const UNUSED: SegmentState = { selector: 0, base: 0, limit: 0xffff, access: 0x82 };

interface TierResult {
  /** MIPS over the whole measurement, wall clock. */
  wall: number;
  /** MIPS per window of this process's CPU time. */
  windows: number[];
}

export async function benchCpu(args: readonly string[]): Promise<number> {
  if (args.length > 0) {
    process.stderr.write('Usage: harness bench cpu (no arguments)\n');
    return 2;
  }
  const image = readFileSync(new URL('../bench/cpu-loop.bin', import.meta.url));
  // Both tiers in the same run, so the comparison does not depend on what else the machine does.
  const results: [string, TierResult][] = [];
  for (const [name, compileBlocks] of [['interpreter only', false], ['compiled blocks', true]] as const) {
    const result = measure(image, compileBlocks);
    if (typeof result === 'string') {
      process.stderr.write(`harness bench cpu: ${result}\n`);
      return 1;
    }
    results.push([name, result]);
  }
  for (const [name, r] of results) {
    process.stdout.write(`${name}: ${r.wall.toFixed(1)} MIPS wall; MIPS per ${(SECONDS / WINDOWS).toFixed(1)} s window of CPU time: ` +
      `${r.windows.map((f) => f.toFixed(1)).join(' ')}\n`);
  }
  const best = results[results.length - 1][1];
  process.stdout.write(`x86-core: ${Math.max(...best.windows).toFixed(1)} MIPS\n`);
  return 0;
}

/** Runs the guest on a fresh VM of strategy `none` and measures it; a string says why it could not. */
function measure(image: Buffer, compileBlocks: boolean): TierResult | string {
  const idle: IoBus & MmioBus = { read: () => 0xffffffff, write: () => undefined };
  const stats: ExitStats = {
    byReason: new Map<ExitReason, number>(),
    byPort: new Map<number, number>(),
    count(reason, port) {
      this.byReason.set(reason, (this.byReason.get(reason) ?? 0) + 1);
      if (port !== undefined) this.byPort.set(port, (this.byPort.get(port) ?? 0) + 1);
    },
  };
  const vm = createNoneStrategy({ compileBlocks }).createVm({
    regions: [{ base: 0, size: 4 << 20 }],
    io: idle,
    mmio: idle,
    interrupts: { pending: () => false, acknowledge: () => 0 },
    stats,
  });
  vm.memory.writeBytes(LOAD_ADDRESS, image);
  const vcpu = vm.createVcpu(0);
  const sregs = vcpu.getSpecialRegisters();
  vcpu.setSpecialRegisters({
    ...sregs, cs: FLAT_CODE, ds: FLAT_DATA, es: FLAT_DATA, ss: FLAT_DATA, fs: FLAT_DATA, gs: FLAT_DATA,
    ldt: UNUSED, cr0: 0x11,
  });
  vcpu.setRegisters({ eax: 0, ecx: 0, edx: 0, ebx: 0, esp: 0x80000, ebp: 0, esi: 0, edi: 0, eip: LOAD_ADDRESS, eflags: 2 });

  // Warm up so the figure is the optimised code's, then measure WINDOWS slices. The machine is
  // shared: wall time includes time the scheduler gave to other processes, so each window is
  // measured over this process's CPU time, and the best window is the headline (all are printed).
  for (let i = 0; i < 20; i++) vcpu.run(SLICE);
  const windows: number[] = [];
  let wallInstructions = 0;
  const t0 = process.hrtime.bigint();
  for (let w = 0; w < WINDOWS; w++) {
    const start = vcpu.retired;
    const cpu0 = process.cpuUsage();
    const w0 = process.hrtime.bigint();
    while (Number(process.hrtime.bigint() - w0) / 1e9 < SECONDS / WINDOWS) {
      const exit = vcpu.run(SLICE);
      if (exit.reason !== 'budget') return `guest stopped unexpectedly (${exit.reason})`;
    }
    const used = process.cpuUsage(cpu0);
    const instructions = vcpu.retired - start;
    wallInstructions += instructions;
    windows.push(instructions / ((used.user + used.system) / 1e6) / 1e6);
  }
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  vm.destroy();
  return { wall: wallInstructions / wall / 1e6, windows };
}
