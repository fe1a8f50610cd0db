// The technique's events, read from hypervisor-type2's statistics: vmx exits by SDM reason and EPT
// counts (vmm-hw's named counters), full's call-outs, traps, reflected exceptions and hidden faults
// ("full ..."), para's hypercalls ("hypercall NAME") and the exceptions it bounced ("exception"
// exits). Port and MMIO accesses are device work every strategy counts alike, so they are not
// technique events.
import type { StatsSnapshot } from '@ringvisor/hypervisor-type2';

export const EVENT_KINDS = ['exits', 'callouts', 'traps', 'hiddenFaults', 'hypercalls', 'eptViolations'] as const;
export type EventKind = (typeof EVENT_KINDS)[number];
export type EventCounts = Record<EventKind, number>;

/** The counters of a snapshot as one flat record; byReason entries are prefixed with "exit ". */
export type Counts = Readonly<Record<string, number>>;

export function countsOf(snapshot: StatsSnapshot): Counts {
  const out: Record<string, number> = { ...snapshot.counters };
  for (const [reason, n] of Object.entries(snapshot.byReason)) out[`exit ${reason}`] = n;
  return out;
}

/** after - before, name by name. */
export function difference(after: Counts, before: Counts): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [name, n] of Object.entries(after)) {
    const d = n - (before[name] ?? 0);
    if (d !== 0) out[name] = d;
  }
  return out;
}

const VMX_EXIT = 'vmx exit ';

function sum(counts: Counts, test: (name: string) => boolean): number {
  let total = 0;
  for (const [name, n] of Object.entries(counts)) if (test(name)) total += n;
  return total;
}

export function eventsOf(counts: Counts): EventCounts {
  return {
    exits: sum(counts, (n) => n.startsWith(VMX_EXIT)),
    callouts: sum(counts, (n) => n.startsWith('full callout-')),
    // full: trapped instructions and guest exceptions it reflects; para: exceptions it bounces.
    traps: sum(counts, (n) => n.startsWith('full trap-') || n.startsWith('full reflected-') || n === 'exit exception'),
    hiddenFaults: counts['full hidden-faults'] ?? 0,
    hypercalls: sum(counts, (n) => n.startsWith('hypercall ')),
    eptViolations: sum(counts, (n) => n.startsWith('ept violations')),
  };
}

/** vmx exits by reason ("30 I/O instruction" → count), from the same counts. */
export function exitReasonsOf(counts: Counts): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [name, n] of Object.entries(counts)) if (name.startsWith(VMX_EXIT)) out[name.slice(VMX_EXIT.length)] = n;
  return out;
}
