// `harness compare --quick` end to end: every strategy that runs here is in the JSON with the events
// its technique must have, and `none` with none.
import { describe, expect, it } from 'vitest';
import { runCompare } from '../src/compare.js';
import type { CompareReport, ResultRow } from '../src/compare/report.js';
import { EVENT_KINDS } from '../src/compare/events.js';
import { NANOBENCHES } from '../src/compare/nanobench.js';

type Measured = Extract<ResultRow, { hostNs: number }>;

const total = (report: CompareReport, strategy: string, kind: (typeof EVENT_KINDS)[number]): number =>
  report.results.filter((r): r is Measured => r.strategy === strategy && 'events' in r).reduce((sum, r) => sum + r.events[kind], 0);

describe('harness compare --quick', () => {
  it('measures every nanobenchmark under none, full, para and hw:vmx with the events each technique has', async () => {
    const report = await runCompare({ quick: true, out: '.', linux: false }, () => {});
    const ran = report.strategies.filter((s) => s.ran).map((s) => s.name);
    expect(ran).toEqual(expect.arrayContaining(['none', 'full', 'para', 'hw:vmx']));
    for (const s of report.strategies) if (!s.ran) expect(s.skipped).toMatch(/\S/);
    expect(report.linux).toEqual([]);

    for (const strategy of ran) {
      const rows = report.results.filter((r) => r.strategy === strategy);
      expect(rows.map((r) => r.benchmark)).toEqual(NANOBENCHES.map((b) => b.name));
      for (const r of rows) {
        if ('unsupported' in r) {
          // Only the PV build lacks operations: ports, CR4 and SYSENTER (32-bit Xen PV has none);
          // KVM's CPUID may lack SEP.
          if (r.benchmark === 'sysenter') {
            expect(['para', 'hw:kvm']).toContain(strategy);
            expect(r.unsupported).toMatch(/SYSENTER/);
            continue;
          }
          expect(strategy).toBe('para');
          expect(['in', 'out', 'cr4']).toContain(r.benchmark);
          continue;
        }
        expect(r.hostNs).toBeGreaterThan(0);
        expect(r.guestTicks).toBeGreaterThan(0);
      }
    }
    for (const kind of EVENT_KINDS) expect(total(report, 'none', kind)).toBe(0);
    expect(total(report, 'full', 'callouts')).toBeGreaterThan(0);
    expect(total(report, 'full', 'hiddenFaults')).toBeGreaterThan(0);
    expect(total(report, 'para', 'hypercalls')).toBeGreaterThan(0);
    expect(total(report, 'hw:vmx', 'exits')).toBeGreaterThan(0);
    // Where the technique must act on every operation, at least once per operation.
    const row = (b: string, s: string) => report.results.find((r): r is Measured => r.benchmark === b && r.strategy === s && 'events' in r);
    expect(row('out', 'hw:vmx')?.events.exits).toBeGreaterThanOrEqual(1);
    expect(row('cr3', 'para')?.events.hypercalls).toBeGreaterThanOrEqual(1);
    expect(row('cr3', 'full')?.events.callouts).toBeGreaterThanOrEqual(1);
    expect(row('pagefault', 'full')?.events.hiddenFaults).toBeGreaterThanOrEqual(1);
    // SYSENTER: under full a user-mode SYSENTER traps (the hardware's SYSENTER_CS is 0) and SYSEXIT is
    // a call-out; under hw:vmx neither exits (the SYSENTER MSRs are VMCS guest state).
    expect(row('sysenter', 'full')?.events.traps).toBeCloseTo(1, 1);
    expect(row('sysenter', 'full')?.events.callouts).toBeGreaterThanOrEqual(1);
    expect(row('sysenter', 'hw:vmx')?.events.exits).toBeLessThan(0.5);
    // The #DE round trip alone: one reflected exception per operation, no system call beside it.
    expect(row('divzero', 'full')?.events.traps).toBeCloseTo(1, 1);
    expect(row('divzero', 'para')?.counters['exit exception']).toBeCloseTo(1, 1);
    expect(row('divzero', 'para')?.counters['hypercall iret']).toBeCloseTo(1, 1);
    expect(row('syscall', 'none')?.ratioToNone).toBe(1);
    expect(JSON.parse(JSON.stringify(report))).toEqual(report);
  }, 600_000);
});
