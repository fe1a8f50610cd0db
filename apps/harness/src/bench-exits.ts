// `harness bench exits`: port-I/O exits per second for one guest (vmm-hw's bench/out-loop.bin, an
// OUT loop to port 0x80) under each strategy that can run here, and under kvm-exits.c, the same
// loop as a tiny C program on /dev/kvm, compiled now where `cc` exists. Exits are counted through
// ExitStats, so every column means the same thing. Printed figures are noisy on a shared machine.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type {
  AccessSize, ExitReason, ExitStats, InterruptController, IoBus, MmioBus, SegmentState, VmmStrategy,
} from '@ringvisor/vmm-api';

const DEFAULT_ITERATIONS = 20_000;
const PORT = 0x80;
const LOAD_ADDRESS = 0x1000;

class CountingStats implements ExitStats {
  readonly byReason = new Map<ExitReason, number>();
  readonly byPort = new Map<number, number>();
  count(reason: ExitReason, port?: number): void {
    this.byReason.set(reason, (this.byReason.get(reason) ?? 0) + 1);
    if (port !== undefined) this.byPort.set(port, (this.byPort.get(port) ?? 0) + 1);
  }
}

const quietIo: IoBus = { read: (_p: number, size: AccessSize) => (size === 4 ? 0xffff_ffff : (1 << (8 * size)) - 1), write: () => {} };
const quietMmio: MmioBus = { read: () => 0xffff_ffff, write: () => {} };
const noInterrupts: InterruptController = { pending: () => false, acknowledge: () => 0xff };

/** Loads a module by a computed name, so the bundler leaves packages the harness may not depend on alone. */
async function strategyFrom(specifier: string, exportName: string): Promise<VmmStrategy | string> {
  try {
    const mod = (await import(specifier)) as Record<string, unknown>;
    const s = mod[exportName] as VmmStrategy | undefined;
    return s ?? `${specifier} does not export ${exportName} yet`;
  } catch (err) {
    return `cannot load ${specifier}: ${(err as Error).message.split('\n')[0]}`;
  }
}

/** Exits per second for `guest` under `strategy`, counted by its ExitStats. */
function measure(strategy: VmmStrategy, guest: Uint8Array, iterations: number): { exits: number; seconds: number } {
  const stats = new CountingStats();
  const vm = strategy.createVm({
    regions: [{ base: 0, size: 0x100000 }], io: quietIo, mmio: quietMmio, interrupts: noInterrupts, stats,
  });
  try {
    vm.memory.writeBytes(LOAD_ADDRESS, guest);
    const vcpu = vm.createVcpu(0);
    const seg = (access: number): SegmentState => ({ selector: 0, base: 0, limit: 0xffff, access });
    const sregs = vcpu.getSpecialRegisters();
    vcpu.setSpecialRegisters({ ...sregs, cs: seg(0x9b), ds: seg(0x93), es: seg(0x93), ss: seg(0x93), fs: seg(0x93), gs: seg(0x93) });
    vcpu.setRegisters({ ...vcpu.getRegisters(), eip: LOAD_ADDRESS, ecx: iterations, esp: 0x8000, eflags: 2 });
    const start = performance.now();
    for (;;) {
      const exit = vcpu.run(10_000_000);
      if (exit.reason === 'hlt') break;
      if (exit.reason !== 'budget') throw new Error(`unexpected exit ${exit.reason}`);
    }
    const seconds = (performance.now() - start) / 1000;
    return { exits: stats.byPort.get(PORT) ?? 0, seconds };
  } finally {
    vm.destroy();
  }
}

/** Compiles kvm-exits.c into a temporary directory and runs it on the same guest. */
function measureC(source: string, guestPath: string, iterations: number): { exits: number; seconds: number } | string {
  if (spawnSync('cc', ['--version'], { stdio: 'ignore' }).status !== 0) return 'no cc';
  const dir = mkdtempSync(join(tmpdir(), 'ringvisor-bench-'));
  try {
    const exe = join(dir, 'kvm-exits');
    const cc = spawnSync('cc', ['-O2', '-o', exe, source], { encoding: 'utf8' });
    if (cc.status !== 0) return `cc failed: ${cc.stderr.trim().split('\n')[0]}`;
    const run = spawnSync(exe, [guestPath, String(iterations)], { encoding: 'utf8' });
    const m = /exits=(\d+) seconds=([\d.]+)/.exec(run.stdout);
    if (run.status !== 0 || !m) return `kvm-exits failed: ${(run.stderr || run.stdout).trim()}`;
    return { exits: Number(m[1]), seconds: Number(m[2]) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const perSecond = (r: { exits: number; seconds: number }): number => Math.round(r.exits / r.seconds);

/** `bench exits [--iterations N]`; returns the process exit code. */
export async function benchExits(args: readonly string[]): Promise<number> {
  const at = args.indexOf('--iterations');
  const iterations = at >= 0 ? Number(args[at + 1]) : DEFAULT_ITERATIONS;
  if (!Number.isInteger(iterations) || iterations <= 0) {
    console.error('bench exits: --iterations takes a positive integer');
    return 2;
  }
  const require = createRequire(import.meta.url);
  let guestPath: string;
  let cSource: string;
  try {
    guestPath = require.resolve('@ringvisor/vmm-hw/bench/out-loop.bin');
    cSource = require.resolve('@ringvisor/vmm-hw/bench/kvm-exits.c');
  } catch (err) {
    console.error(`bench exits: cannot find @ringvisor/vmm-hw's bench files (${(err as Error).message.split('\n')[0]})`);
    return 1;
  }
  const guest = new Uint8Array(readFileSync(guestPath));
  console.log(`guest: ${iterations} x OUT to port 0x${PORT.toString(16)} (${guestPath})`);

  const none = await strategyFrom('@ringvisor/x86-core', 'noneStrategy');
  if (typeof none === 'string') console.log(`none: skipped (${none})`);
  else {
    const r = measure(none, guest, iterations);
    console.log(`none: ${r.exits} exits in ${r.seconds.toFixed(3)} s = ${perSecond(r)} per s`);
  }

  const hw = await strategyFrom('@ringvisor/vmm-hw', 'hwStrategy');
  const hwReason = typeof hw === 'string' ? hw : hw.unavailableReason();
  let kvmFigure = 'unavailable';
  if (typeof hw === 'string' || hwReason !== null) console.log(`hw: unavailable (${hwReason})`);
  else {
    measure(hw, guest, Math.min(1000, iterations)); // warm-up: koffi bindings, JIT
    const r = measure(hw, guest, iterations);
    kvmFigure = String(perSecond(r));
    console.log(`hw (TypeScript + koffi): ${r.exits} exits in ${r.seconds.toFixed(3)} s = ${kvmFigure} per s`);
  }

  const c = hwReason === null ? measureC(cSource, guestPath, iterations) : 'no /dev/kvm';
  const cFigure = typeof c === 'string' ? `unavailable, ${c}` : `${perSecond(c)} per s`;
  if (typeof c !== 'string') console.log(`C (kvm-exits.c): ${c.exits} exits in ${c.seconds.toFixed(3)} s = ${cFigure}`);
  console.log(`kvm exits: ${kvmFigure} per s (C: ${cFigure})`);
  return 0;
}
