// The compare table as text: one row per benchmark and strategy.
import type { CompareReport } from './report.js';

const fixed = (n: number, digits = 0): string => (Number.isFinite(n) ? n.toFixed(digits) : '-');

/** An events-per-operation figure: blank for none, two decimals below 10. */
function events(n: number): string {
  if (n === 0) return '.';
  return n < 10 ? n.toFixed(2) : n.toFixed(0);
}

function topReasons(reasons: Record<string, number>): string {
  return Object.entries(reasons).sort((a, b) => b[1] - a[1]).slice(0, 2)
    .map(([reason, n]) => `${reason} ${events(n)}`).join(', ');
}

export function formatTable(report: CompareReport): string[] {
  const head = ['benchmark', 'strategy', 'host ns/op', 'x none', 'exits', 'call-outs', 'traps', 'hidden PF', 'hypercalls', 'EPT viol', `model cycles*`, 'vmx exits by reason'];
  const rows: string[][] = [];
  for (const r of report.results) {
    if ('unsupported' in r) {
      rows.push([r.benchmark, r.strategy, 'n/a', '', '', '', '', '', '', '', '', r.unsupported]);
      continue;
    }
    const e = r.events;
    rows.push([
      r.benchmark, r.strategy, fixed(r.hostNs), r.ratioToNone === null ? '-' : fixed(r.ratioToNone, 2),
      events(e.exits), events(e.callouts), events(e.traps), events(e.hiddenFaults), events(e.hypercalls), events(e.eptViolations),
      r.modeledCycles === null ? '-' : fixed(r.modeledCycles), topReasons(r.exitReasons),
    ]);
  }
  // The Linux boot is one operation: its time in seconds, its events in total.
  for (const l of report.linux) {
    const why = l.skipped !== undefined ? `skipped: ${l.skipped}` : l.failed !== undefined ? `failed: ${l.failed}` : '';
    if (l.seconds === undefined || l.events === undefined) {
      rows.push(['linux-boot', l.strategy, 'n/a', '', '', '', '', '', '', '', '', why]);
      continue;
    }
    const e = l.events;
    rows.push([
      'linux-boot', l.strategy, `${l.seconds.toFixed(1)} s`, l.ratioToNone == null ? '-' : fixed(l.ratioToNone, 2),
      events(e.exits), events(e.callouts), events(e.traps), events(e.hiddenFaults), events(e.hypercalls), events(e.eptViolations),
      l.modeledCycles == null ? '-' : fixed(l.modeledCycles), topReasons(l.exitReasons ?? {}),
    ]);
  }
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i < 2 || i === cells.length - 1 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ').trimEnd();
  const out = [line(head)];
  let last = '';
  for (const row of rows) {
    if (row[0] !== last && last !== '') out.push('');
    last = row[0];
    out.push(line(row));
  }
  out.push('', `* model cycles: a model, not a measurement — ${report.model.description}`);
  if (report.linux.length > 0) out.push('linux-boot: Debian i686 to the init marker, one operation: wall seconds, events in total');
  return out;
}
