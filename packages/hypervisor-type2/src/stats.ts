import type { ExitStats } from '@ringvisor/vmm-api';

/** A copy of a VM's counters that can cross threads (structured-clone friendly). */
export interface StatsSnapshot {
  /** Exits by reason, port I/O and MMIO included. */
  readonly byReason: Readonly<Record<string, number>>;
  /** Port-I/O exits by port, busiest first. */
  readonly byPort: readonly (readonly [port: number, count: number])[];
  /** Last code the guest wrote to the POST port (0x80), or null if it never wrote one. */
  readonly post: number | null;
  readonly instructions: number;
  /** The strategy cannot count instructions: `instructions` is derived from time, not counted. */
  readonly instructionsEstimated: boolean;
  /** Guest time in nanoseconds (the VM's clock). */
  readonly guestNs: number;
  /** Wall time the VM spent running, pauses excluded. */
  readonly runMs: number;
  /** The strategy's named counters (para-virtual: hypercalls by name, events, ring requests…). */
  readonly counters: Readonly<Record<string, number>>;
}

export function snapshotStats(
  stats: ExitStats,
  state: { post: number | null; instructions: number; instructionsEstimated: boolean; guestNs: number; runMs: number },
): StatsSnapshot {
  const byReason: Record<string, number> = {};
  for (const [reason, count] of stats.byReason) byReason[reason] = count;
  const byPort = [...stats.byPort].sort((a, b) => b[1] - a[1] || a[0] - b[0]);
  const counters: Record<string, number> = {};
  for (const [name, count] of stats.counters ?? []) counters[name] = count;
  return { byReason, byPort, counters, ...state };
}

/** Millions of guest instructions per wall second of running. */
export function mipsOf(snapshot: StatsSnapshot): number {
  return snapshot.runMs > 0 ? snapshot.instructions / (snapshot.runMs * 1000) : 0;
}

/** Named-counter prefixes shown as one line each: [prefix, title]. */
const COUNTER_GROUPS: readonly (readonly [string, string])[] = [
  ['hypercall ', 'hypercalls'], ['vmx exit ', 'vmx exits'], ['ept ', 'ept'],
];

const hex = (value: number, digits: number) => `0x${value.toString(16).padStart(digits, '0')}`;

/** The statistics as lines of text (the CLI's `--stats` and Ctrl-A s print these). */
export function formatStats(snapshot: StatsSnapshot, maxPorts = 12): string[] {
  const reasons = Object.entries(snapshot.byReason).sort((a, b) => b[1] - a[1]);
  const total = reasons.reduce((sum, [, count]) => sum + count, 0);
  const lines = [`exits: ${total}${reasons.length ? ` (${reasons.map(([r, c]) => `${r} ${c}`).join(', ')})` : ''}`];
  if (snapshot.byPort.length > 0) {
    const shown = snapshot.byPort.slice(0, maxPorts).map(([port, count]) => `${hex(port, 2)} ${count}`);
    const more = snapshot.byPort.length - shown.length;
    lines.push(`ports: ${shown.join(', ')}${more > 0 ? `, ${more} more` : ''}`);
  }
  const guestTime = `guest time ${(snapshot.guestNs / 1e9).toFixed(3)} s`;
  lines.push(snapshot.instructionsEstimated
    ? `instructions: not counted by this strategy; ${(snapshot.runMs / 1000).toFixed(3)} s running, ${guestTime}`
    : `instructions: ${snapshot.instructions} in ${(snapshot.runMs / 1000).toFixed(3)} s (${mipsOf(snapshot).toFixed(1)} MIPS), ${guestTime}`);
  lines.push(`post: ${snapshot.post === null ? 'none' : hex(snapshot.post, 2)}`);
  // Named counters by group: "hypercall mmu_update" joins the line "hypercalls: 12 (mmu_update 12, ...)",
  // "vmx exit 30 I/O instruction" the line "vmx exits: ...", "ept 2-D walks" the line "ept: ...".
  let named = Object.entries(snapshot.counters);
  for (const [prefix, title] of COUNTER_GROUPS) {
    const group = named.filter(([name]) => name.startsWith(prefix)).sort((a, b) => b[1] - a[1]);
    named = named.filter(([name]) => !name.startsWith(prefix));
    if (group.length === 0) continue;
    const total = group.reduce((sum, [, count]) => sum + count, 0);
    lines.push(`${title}: ${total} (${group.map(([name, count]) => `${name.slice(prefix.length)} ${count}`).join(', ')})`);
  }
  const others = named.sort((a, b) => a[0].localeCompare(b[0]));
  if (others.length > 0) lines.push(others.map(([name, count]) => `${name}: ${count}`).join(', '));
  return lines;
}
