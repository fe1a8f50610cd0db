// Modeled cycles: the technique's events per operation × what one such event cost on a real CPU.
// This is a model, not a measurement: in the emulator an exit or a call-out is a function call, so
// its measured host time says nothing about silicon. The CPU is the one Adams & Agesen measured
// (ASPLOS 2006): a Pentium 4 672 (Prescott, 3.8 GHz, first-generation VT-x). Every constant below
// is derived from their Figure 4 (native / software VMM / hardware VMM cycles per nanobenchmark),
// with the values as read from the log-scale chart in /work/shared/REFERENCES.md ("Anchor figures")
// — check the paper before quoting them.
import type { EventCounts, EventKind } from './events.js';

export const MODEL_CPU = 'Pentium 4 672 (Prescott), costs derived from Adams & Agesen 2006, Figure 4';

/** Cycles per event; null: no published figure for this CPU (rows with such events show no model). */
export const CYCLES_PER_EVENT: Readonly<Record<EventKind, number | null>> = {
  // `in` under VT-x 15,826 − native `in` 3,209: one I/O exit round trip with their VMM's handling.
  exits: 12_617,
  // `in` under BT is ~15× cheaper than native (3,209 / 15): the translated code's call-out to the
  // VMM's device model is all of it.
  callouts: 214,
  // Divide-by-zero under BT 3,223 − native 889: a guest exception taken by the VMM and reflected,
  // as a trapped instruction or a bounced exception is.
  traps: 2_334,
  // Page fault under BT 3,927 − native 1,093: the VMM's page-fault path (shadow fill, then resume).
  hiddenFaults: 2_834,
  // The paper measured no para-virtual hypervisor.
  hypercalls: null,
  // The P4 had no EPT (Nehalem, 2008, was first); an EPT violation is an exit (reason 48) and is
  // already priced in `exits`.
  eptViolations: 0,
};

/** Modeled virtualization cycles per operation, or null when an event has no published cost. */
export function modeledCycles(events: EventCounts): number | null {
  let total = 0;
  for (const [kind, n] of Object.entries(events) as [EventKind, number][]) {
    if (n === 0) continue;
    const cost = CYCLES_PER_EVENT[kind];
    if (cost === null) return null;
    total += n * cost;
  }
  return total;
}
