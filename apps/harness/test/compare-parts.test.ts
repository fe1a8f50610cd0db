// The pieces of `harness compare` that need no VM: event classification, the model, the chart.
import { describe, expect, it } from 'vitest';
import { eventsOf, exitReasonsOf } from '../src/compare/events.js';
import { CYCLES_PER_EVENT, modeledCycles } from '../src/compare/model.js';
import { MODEL_INFO, type CompareReport } from '../src/compare/report.js';
import { compareSvg } from '../src/compare/svg.js';
import { formatTable } from '../src/compare/table.js';

const noEvents = { exits: 0, callouts: 0, traps: 0, hiddenFaults: 0, hypercalls: 0, eptViolations: 0 };

describe('compare events', () => {
  it('sorts each strategy\'s counters into the technique\'s events and leaves device exits out', () => {
    const counts = {
      'exit io': 40, 'exit mmio': 2, 'exit exception': 3, 'exit hypercall': 5,
      'vmx exit 30 I/O instruction': 4, 'vmx exit 48 EPT violation': 1, 'ept violations (read)': 1, 'ept 2-D walks': 99,
      'full callout-io': 6, 'full callout-mov-cr3': 1, 'full fast-callouts': 50, 'full trap-cd': 2, 'full reflected-0': 1, 'full hidden-faults': 7,
      'hypercall mmuext_op': 3, 'hypercall iret': 2, 'events delivered': 9,
    };
    expect(eventsOf(counts)).toEqual({ exits: 5, callouts: 7, traps: 6, hiddenFaults: 7, hypercalls: 5, eptViolations: 1 });
    expect(exitReasonsOf(counts)).toEqual({ '30 I/O instruction': 4, '48 EPT violation': 1 });
    expect(eventsOf({ 'exit io': 400, 'exit hlt': 3 })).toEqual(noEvents);
  });
});

describe('compare model', () => {
  it('prices events at the per-event costs and has no figure where a cost is unpublished', () => {
    expect(modeledCycles(noEvents)).toBe(0);
    expect(modeledCycles({ ...noEvents, exits: 2, callouts: 1 })).toBe(2 * (CYCLES_PER_EVENT.exits ?? 0) + (CYCLES_PER_EVENT.callouts ?? 0));
    expect(modeledCycles({ ...noEvents, hypercalls: 1 })).toBeNull();
  });
});

describe('compare chart', () => {
  it('draws one bar per measured benchmark and strategy on a log axis, none for unsupported ones', () => {
    const row = (benchmark: string, strategy: string, hostNs: number) => ({
      benchmark, strategy, label: benchmark, iterations: 1, guestTicks: hostNs / 10, hostNs, events: noEvents,
      exitReasons: {}, counters: {}, ratioToNone: null, modeledCycles: 0,
    });
    const report: CompareReport = {
      command: 'test', date: '', quick: true, host: { node: '', platform: '', cpus: 1 }, model: MODEL_INFO, linux: [],
      strategies: [{ name: 'none', guest: 'minikernel', ran: true }, { name: 'para', guest: 'minikernel-pv', ran: true }, { name: 'hw:kvm', guest: 'minikernel', ran: false, skipped: 'no /dev/kvm' }],
      results: [row('in', 'none', 50), { benchmark: 'in', strategy: 'para', label: 'in', unsupported: 'no ports' }, row('cr3', 'none', 2000), row('cr3', 'para', 30000)],
    };
    const svg = compareSvg(report);
    expect(svg.match(/<rect [^>]*><title>/g)).toHaveLength(3);
    expect(svg).toContain('<title>cr3 para: 30000 ns</title>');
    expect(svg).toMatch(/>1e1<.*>1e5</s);
    expect(svg).not.toContain('hw:kvm');
    expect(svg).not.toMatch(/NaN|Infinity/);
  });

  it('adds a Linux panel in seconds per operation, with no bar for a strategy that could not boot it', () => {
    const linux = (benchmark: string, strategy: string, hostSeconds: number, guestSeconds?: number) => ({
      benchmark, label: benchmark, strategy, operations: 1, hostSeconds, guestSeconds, ratioToNone: null,
      events: { ...noEvents, exits: 3 }, exitReasons: { '30 I/O instruction': 3 }, modeledCycles: 3 * (CYCLES_PER_EVENT.exits ?? 0),
    });
    const report: CompareReport = {
      command: 'test', date: '', quick: false, host: { node: '', platform: '', cpus: 1 }, model: MODEL_INFO,
      strategies: [{ name: 'none', guest: 'minikernel', ran: true }, { name: 'para', guest: 'minikernel-pv', ran: true }],
      results: [],
      linux: [
        linux('linux-boot', 'none', 41.5), { benchmark: 'linux-boot', label: 'boot', strategy: 'para', skipped: 'runs Xen PV kernels only' },
        linux('linux-sha256', 'none', 2.5, 2.45), { benchmark: 'linux-sha256', label: 'sha', strategy: 'para', skipped: 'runs Xen PV kernels only' },
      ],
    };
    const svg = compareSvg(report);
    expect(svg).toContain('Linux: host seconds per operation');
    expect(svg.match(/<rect [^>]*><title>/g)).toHaveLength(2);
    expect(svg).toContain('<title>linux-sha256 none: 2.50 s</title>');
    expect(svg).not.toMatch(/NaN|Infinity/);
    const table = formatTable(report).join('\n');
    expect(table).toMatch(/linux-sha256\s+none\s+1\s+2\.50\s+2\.45\s+-\s+3\.00 /);
    expect(table).toMatch(/linux-boot\s+para\s+n\/a.*skipped: runs Xen PV kernels only/);
    expect(table).toContain('guest s/op');
  });
});
