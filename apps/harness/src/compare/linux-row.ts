// The macro workload: Debian's i686 kernel with the project's initramfs (bench linux's guest and
// command line), booted in HostedVm to its init's marker under each strategy that boots a native
// kernel, with the run's statistics at the marker. para runs only Xen PV kernels built without PAE,
// and Debian ships its Xen PV support in a PAE kernel.
import { readFileSync } from 'node:fs';
import { HostedVm } from '@ringvisor/hypervisor-type2';
import { APPEND, fetchGuest, MARKER, type Guest } from '../bench-linux.js';
import { countsOf, eventsOf, exitReasonsOf, type EventCounts } from './events.js';
import { modeledCycles } from './model.js';
import type { CompareStrategy } from './strategies.js';

const LIMIT_S = 900;
const MEMORY = 128 << 20;

export interface LinuxRow {
  readonly strategy: string;
  readonly seconds?: number;
  /** seconds / the same under none; null without a none figure. */
  readonly ratioToNone?: number | null;
  /** The technique's events in the whole boot (one operation). */
  readonly events?: EventCounts;
  readonly exitReasons?: Record<string, number>;
  readonly modeledCycles?: number | null;
  readonly skipped?: string;
  readonly failed?: string;
}

async function bootToMarker(strategy: CompareStrategy, guest: Guest): Promise<LinuxRow> {
  const name = strategy.entry.name;
  let seen = '';
  let reached: (() => void) | null = null;
  const marker = new Promise<void>((resolve) => { reached = resolve; });
  const start = performance.now();
  const vm = await HostedVm.start({
    strategy: strategy.entry,
    machine: { memory: MEMORY, boot: { kind: 'linux', kernel: readFileSync(guest.bzImage), initrd: readFileSync(guest.initrd), cmdline: APPEND } },
    serial: { kind: 'console', write: (bytes) => { seen = (seen + Buffer.from(bytes).toString('latin1')).slice(-256); if (seen.includes(MARKER)) reached?.(); } },
    maxTimeSeconds: LIMIT_S,
  });
  const ended = vm.done.then((report) => report);
  const first = await Promise.race([marker.then(() => 'marker' as const), ended]);
  if (first !== 'marker') return { strategy: name, failed: `the VM ended (${first.end.reason}) before the marker` };
  const seconds = (performance.now() - start) / 1000;
  const counts = countsOf(await vm.stats());
  vm.stop();
  await vm.done;
  const events = eventsOf(counts);
  return { strategy: name, seconds, events, exitReasons: exitReasonsOf(counts), modeledCycles: modeledCycles(events) };
}

export async function linuxBootRows(
  strategies: readonly { strategy: CompareStrategy; ran: boolean; skipped?: string }[], log: (line: string) => void,
): Promise<LinuxRow[]> {
  let guest: Guest;
  try {
    guest = fetchGuest();
  } catch (error) {
    const why = `no Debian kernel (tools/linux-guest.mjs: ${(error as Error).message.split('\n')[0]})`;
    return strategies.map((s) => ({ strategy: s.strategy.entry.name, skipped: why }));
  }
  const rows: LinuxRow[] = [];
  for (const s of strategies) {
    const name = s.strategy.entry.name;
    if (!s.ran) rows.push({ strategy: name, skipped: s.skipped ?? 'not run' });
    else if (s.strategy.guest !== 'minikernel') rows.push({ strategy: name, skipped: 'runs Xen PV kernels without PAE only; Debian\'s i686 kernel is not one' });
    else {
      log(`${name}: booting Linux`);
      const row = await bootToMarker(s.strategy, guest);
      rows.push(row);
      log(`${name}: Linux ${row.seconds !== undefined ? `${row.seconds.toFixed(1)} s` : row.failed}`);
    }
  }
  const none = rows.find((r) => r.strategy === 'none')?.seconds;
  return rows.map((r) => (r.seconds === undefined ? r : { ...r, ratioToNone: none ? r.seconds / none : null }));
}
