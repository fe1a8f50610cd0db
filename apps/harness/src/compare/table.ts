// The compare table as text: one row per benchmark and strategy; the nanobenchmarks first, then the
// Linux workloads, whose operations are long enough to give in seconds and to time in the guest too.
import type { EventCounts } from './events.js';
import type { CompareReport } from './report.js';

const fixed = (n: number, digits = 0): string => (Number.isFinite(n) ? n.toFixed(digits) : '-');

/** An events-per-operation figure: '.' for none, two decimals below 10. */
function events(n: number): string {
  if (n === 0) return '.';
  return n < 10 ? n.toFixed(2) : n.toFixed(0);
}

function topReasons(reasons: Record<string, number>): string {
  return Object.entries(reasons).sort((a, b) => b[1] - a[1]).slice(0, 2)
    .map(([reason, n]) => `${reason} ${events(n)}`).join(', ');
}

/** Seconds with three significant digits. */
const seconds = (s: number): string => (s >= 100 ? s.toFixed(0) : s.toPrecision(3));

const EVENT_HEAD = ['exits', 'call-outs', 'traps', 'hidden PF', 'hypercalls', 'EPT viol', 'model cycles*', 'vmx exits by reason'];

function eventCells(e: EventCounts, model: number | null | undefined, reasons: Record<string, number> | undefined): string[] {
  return [
    events(e.exits), events(e.callouts), events(e.traps), events(e.hiddenFaults), events(e.hypercalls), events(e.eptViolations),
    model == null ? '-' : fixed(model), topReasons(reasons ?? {}),
  ];
}

/** Columns padded (names left, figures right, the last column left), a blank line between benchmarks. */
function layout(head: string[], rows: string[][], numeric: (i: number) => boolean): string[] {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const line = (cells: string[]): string => cells.map((c, i) => (numeric(i) ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ').trimEnd();
  const out = [line(head)];
  let last = '';
  for (const row of rows) {
    if (row[0] !== last && last !== '') out.push('');
    last = row[0];
    out.push(line(row));
  }
  return out;
}

export function formatTable(report: CompareReport): string[] {
  const head = ['benchmark', 'strategy', 'host ns/op', 'x none', ...EVENT_HEAD];
  const rows = report.results.map((r) => ('unsupported' in r
    ? [r.benchmark, r.strategy, 'n/a', '', '', '', '', '', '', '', '', r.unsupported]
    : [r.benchmark, r.strategy, fixed(r.hostNs), r.ratioToNone === null ? '-' : fixed(r.ratioToNone, 2), ...eventCells(r.events, r.modeledCycles, r.exitReasons)]));
  const out = layout(head, rows, (i) => i >= 2 && i < head.length - 1);
  out.push('', `* model cycles: a model, not a measurement — ${report.model.description}`);
  if (report.linux.length === 0) return out;

  const linuxHead = ['workload', 'strategy', 'ops', 'host s/op', 'guest s/op', 'x none', ...EVENT_HEAD];
  const linuxRows = report.linux.map((l) => {
    if (l.hostSeconds === undefined || l.events === undefined) {
      const why = l.skipped !== undefined ? `skipped: ${l.skipped}` : `failed: ${l.failed ?? 'no figure'}`;
      return [l.benchmark, l.strategy, '', 'n/a', '', '', '', '', '', '', '', '', '', why];
    }
    return [
      l.benchmark, l.strategy, String(l.operations ?? 1), seconds(l.hostSeconds), l.guestSeconds === undefined ? '-' : seconds(l.guestSeconds),
      l.ratioToNone == null ? '-' : fixed(l.ratioToNone, 2), ...eventCells(l.events, l.modeledCycles, l.exitReasons),
    ];
  });
  out.push('', ...layout(linuxHead, linuxRows, (i) => i >= 2 && i < linuxHead.length - 1));
  out.push('', 'Linux: Debian i686 on the host clock, one boot per strategy; host s/op = the harness\'s clock (boot:',
    'start to the init marker; workloads: typed command to its answer); guest s/op = the guest\'s /proc/uptime',
    'around the workload (10 ms resolution); events per operation as above');
  return out;
}
