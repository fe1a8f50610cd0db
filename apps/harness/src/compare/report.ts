// What `harness compare` measured, as compare.json holds it.
import type { NanoResult } from './nanobench.js';
import type { LinuxRow } from './linux-session.js';
import { CYCLES_PER_EVENT, MODEL_CPU } from './model.js';

export type ResultRow =
  | (Extract<NanoResult, { guestTicks: number }> & {
    readonly strategy: string;
    readonly label: string;
    /** host ns per operation / the same under `none`; null without a `none` figure. */
    readonly ratioToNone: number | null;
    /** Modeled virtualization cycles per operation (see model.ts); null if not modelable. */
    readonly modeledCycles: number | null;
  })
  | (Extract<NanoResult, { unsupported: string }> & { readonly strategy: string; readonly label: string });

export interface CompareReport {
  readonly command: string;
  readonly date: string;
  readonly quick: boolean;
  readonly host: { readonly node: string; readonly platform: string; readonly cpus: number };
  readonly strategies: readonly { readonly name: string; readonly guest: string; readonly ran: boolean; readonly skipped?: string }[];
  readonly model: { readonly description: string; readonly cyclesPerEvent: typeof CYCLES_PER_EVENT };
  readonly results: readonly ResultRow[];
  readonly linux: readonly LinuxRow[];
}

export const MODEL_INFO: CompareReport['model'] = {
  description: `virtualization cycles per operation = events × per-event cost on a ${MODEL_CPU}; '-' where an event (a hypercall) has no published cost there`,
  cyclesPerEvent: CYCLES_PER_EVENT,
};
