// The nanobenchmarks of Adams & Agesen's Figure 4 (and a few more), as minikernel's `nb NAME N`
// runs them in both of its builds. Each is run twice in the same VM, with 0 and with N operations:
// the difference of the two runs' statistics, divided by N, is the technique's events per operation
// without the command's own cost (reading the line, printing the answer, the prompt); time is the
// guest's TSC around the N operations. A first,
// unmeasured run of N warms what the host caches: translations, compiled blocks, shadow tables;
// then the fastest of REPEATS runs counts, since on a shared host noise only ever adds time.
import { countsOf, difference, eventsOf, exitReasonsOf, type EventCounts } from './events.js';
import type { GuestSession } from './guest-session.js';
import type { CompareStrategy } from './strategies.js';

export interface Nanobench {
  readonly name: string;
  readonly label: string;
  /** Operations per measurement: full run and --quick. */
  readonly iterations: number;
  readonly quick: number;
  /** Why a build answers "unsupported", where the reason is not that the build lacks the operation. */
  readonly unsupportedWhy?: Partial<Record<CompareStrategy['guest'], string>>;
}

export const NANOBENCHES: readonly Nanobench[] = [
  { name: 'syscall', label: 'syscall (int 0x80 getpid)', iterations: 20000, quick: 200 },
  {
    name: 'sysenter', label: 'syscall (SYSENTER/SYSEXIT getpid)', iterations: 20000, quick: 200,
    unsupportedWhy: {
      minikernel: 'the guest\'s CPU has no SYSENTER (CPUID.01H:EDX.SEP clear)',
      'minikernel-pv': '32-bit Xen has SYSENTER callbacks only with supervisor_mode_kernel, which vmm-para lacks',
    },
  },
  { name: 'in', label: 'in from a device port', iterations: 20000, quick: 200 },
  { name: 'out', label: 'out to a device port', iterations: 20000, quick: 200 },
  { name: 'cr3', label: 'CR3 write (PV: new_baseptr)', iterations: 10000, quick: 100 },
  { name: 'cr0', label: 'CR0 write (PV: fpu_taskswitch)', iterations: 100000, quick: 2000 },
  { name: 'cr4', label: 'CR4 write', iterations: 100000, quick: 2000 },
  { name: 'callret', label: 'call/ret in user mode (control)', iterations: 500000, quick: 5000 },
  { name: 'pagefault', label: 'demand-zero page fault', iterations: 2000, quick: 50 },
  { name: 'divzero', label: 'divide-by-zero round trip', iterations: 10000, quick: 100 },
  { name: 'invlpg', label: 'PTE modification + INVLPG', iterations: 10000, quick: 100 },
  { name: 'forkwait', label: 'fork+wait', iterations: 300, quick: 5 },
];

export type NanoResult =
  | {
    readonly benchmark: string;
    readonly iterations: number;
    /** Guest TSC ticks per operation (the guest's own measurement). */
    readonly guestTicks: number;
    readonly hostNs: number;
    /** Technique events per operation. */
    readonly events: EventCounts;
    /** vmx exits per operation by SDM reason. */
    readonly exitReasons: Record<string, number>;
    /** Every statistics counter that moved, per operation (for the JSON). */
    readonly counters: Record<string, number>;
  }
  | { readonly benchmark: string; readonly unsupported: string };

const COMMAND_LIMIT_S = 900;
const REPEATS = 3;

async function measure(session: GuestSession, name: string, count: number) {
  const before = countsOf(await session.stats());
  const { text, ms } = await session.command(`nb ${name} ${count}`, COMMAND_LIMIT_S);
  const after = countsOf(await session.stats());
  const m = new RegExp(`nb: ${name} (?:(\\d+) cycles|unsupported)`).exec(text);
  if (!m) throw new Error(`unexpected answer to 'nb ${name} ${count}': ${text.trim().slice(0, 200)}`);
  return { ticks: m[1] === undefined ? null : Number(m[1]), ms, counts: difference(after, before) };
}

const perOp = (n: number, count: number): number => Math.max(0, n) / count;

export async function runNanobench(
  session: GuestSession, strategy: CompareStrategy, bench: Nanobench, quick: boolean,
): Promise<NanoResult> {
  const count = quick ? bench.quick : bench.iterations;
  const zero = await measure(session, bench.name, 0);
  if (zero.ticks === null) return { benchmark: bench.name, unsupported: bench.unsupportedWhy?.[strategy.guest] ?? `the ${strategy.guest} build has no such operation` };
  await measure(session, bench.name, count);
  let full = await measure(session, bench.name, count);
  for (let i = 1; i < REPEATS; i++) {
    const again = await measure(session, bench.name, count);
    const faster = strategy.nsPerTick === null ? again.ms < full.ms : (again.ticks ?? Infinity) < (full.ticks ?? Infinity);
    if (faster) full = again;
  }
  if (full.ticks === null) throw new Error(`nb ${bench.name} answered unsupported only for N > 0`);
  // The guest prints the low 32 bits of the TSC difference: 43 s at 10 ns a tick.
  if (strategy.nsPerTick !== null && full.ms * 1e6 >= 2 ** 32 * strategy.nsPerTick) {
    throw new Error(`nb ${bench.name} ${count} ran ${(full.ms / 1000).toFixed(0)} s, past the guest's 32-bit TSC difference`);
  }
  const counters: Record<string, number> = {};
  for (const name of new Set([...Object.keys(full.counts), ...Object.keys(zero.counts)])) {
    const n = perOp((full.counts[name] ?? 0) - (zero.counts[name] ?? 0), count);
    if (n > 0) counters[name] = n;
  }
  // Time is the N run's alone: its one system call (for the kernel-side loops) is shared by N
  // operations, while subtracting the 0 run would subtract that run's timer interrupts as noise.
  const guestTicks = full.ticks / count;
  const hostNs = strategy.nsPerTick === null ? perOp((full.ms - zero.ms) * 1e6, count) : guestTicks * strategy.nsPerTick;
  return { benchmark: bench.name, iterations: count, guestTicks, hostNs, events: eventsOf(counters), exitReasons: exitReasonsOf(counters), counters };
}
