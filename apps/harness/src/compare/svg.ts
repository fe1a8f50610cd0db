// compare.svg: log-scale bars, one group per benchmark and one bar per strategy (the layout of
// Adams & Agesen's Figure 4): host ns per operation for the nanobenchmarks and, below when the run
// booted Linux, host seconds per operation for the Linux workloads. Plain SVG text, no dependencies.
import type { CompareReport } from './report.js';

const COLORS = ['#4c72b0', '#dd8452', '#55a868', '#c44e52', '#8172b3', '#937860'];
const W = 960;
const PANEL_H = 360;
const LEFT = 70;
const RIGHT = 20;
const TOP = 40;
const BOTTOM = 70;
const LEGEND_H = 30;

const escape = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

interface Panel {
  readonly title: string;
  /** A bar's value as its tooltip shows it. */
  readonly format: (v: number) => string;
  readonly benchmarks: readonly string[];
  /** The bar's value, or null for no bar (unsupported, skipped, failed). */
  readonly value: (benchmark: string, strategy: string) => number | null;
}

/** One panel's elements, drawn from `y0` down over PANEL_H. */
function panel(p: Panel, strategies: readonly string[], y0: number): string[] {
  const values = p.benchmarks.flatMap((b) => strategies.map((s) => p.value(b, s))).filter((v): v is number => v !== null && v > 0);
  const lo = Math.floor(Math.log10(values.length ? Math.min(...values) : 1));
  const hi = Math.max(lo + 1, Math.ceil(Math.log10(values.length ? Math.max(...values) : 10)));
  const top = y0 + TOP;
  const plotH = PANEL_H - TOP - BOTTOM;
  const y = (v: number): number => top + plotH * (1 - (Math.log10(v) - lo) / (hi - lo));
  const groupW = (W - LEFT - RIGHT) / Math.max(1, p.benchmarks.length);
  const barW = (groupW * 0.8) / Math.max(1, strategies.length);
  const out = [`<text x="${W / 2}" y="${y0 + 18}" text-anchor="middle" font-size="14">${escape(p.title)}</text>`];
  for (let e = lo; e <= hi; e++) {
    const yy = y(10 ** e).toFixed(1);
    out.push(`<line x1="${LEFT}" x2="${W - RIGHT}" y1="${yy}" y2="${yy}" stroke="#ddd"/>`,
      `<text x="${LEFT - 6}" y="${yy}" text-anchor="end" dominant-baseline="middle">1e${e}</text>`);
  }
  p.benchmarks.forEach((b, gi) => {
    const x0 = LEFT + gi * groupW + groupW * 0.1;
    strategies.forEach((s, si) => {
      const v = p.value(b, s);
      if (v === null || v <= 0) return;
      const barTop = y(v);
      out.push(`<rect x="${(x0 + si * barW).toFixed(1)}" y="${barTop.toFixed(1)}" width="${(barW * 0.9).toFixed(1)}" height="${(top + plotH - barTop).toFixed(1)}" fill="${COLORS[si % COLORS.length]}"><title>${escape(`${b} ${s}: ${p.format(v)}`)}</title></rect>`);
    });
    const cx = (x0 + groupW * 0.4).toFixed(1);
    out.push(`<text x="${cx}" y="${top + plotH + 14}" text-anchor="end" transform="rotate(-35 ${cx} ${top + plotH + 14})">${escape(b)}</text>`);
  });
  out.push(`<line x1="${LEFT}" x2="${W - RIGHT}" y1="${top + plotH}" y2="${top + plotH}" stroke="black"/>`);
  return out;
}

export function compareSvg(report: CompareReport): string {
  const strategies = report.strategies.filter((s) => s.ran).map((s) => s.name);
  const panels: Panel[] = [{
    title: `Host ns per operation (log scale)${report.quick ? ' — quick run' : ''}`,
    format: (v) => `${v.toFixed(0)} ns`,
    benchmarks: [...new Set(report.results.map((r) => r.benchmark))],
    value: (b, s) => {
      const r = report.results.find((x) => x.benchmark === b && x.strategy === s);
      return r && 'hostNs' in r ? r.hostNs : null;
    },
  }];
  if (report.linux.some((l) => l.hostSeconds !== undefined)) {
    panels.push({
      title: 'Linux: host seconds per operation (log scale)',
      format: (v) => `${v.toPrecision(3)} s`,
      benchmarks: [...new Set(report.linux.map((l) => l.benchmark))],
      value: (b, s) => report.linux.find((x) => x.benchmark === b && x.strategy === s)?.hostSeconds ?? null,
    });
  }
  const h = panels.length * PANEL_H + LEGEND_H;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${h}" viewBox="0 0 ${W} ${h}" font-family="sans-serif" font-size="11">`,
    `<rect width="${W}" height="${h}" fill="white"/>`,
    ...panels.flatMap((p, i) => panel(p, strategies, i * PANEL_H)),
  ];
  strategies.forEach((s, si) => {
    const x = LEFT + si * 110;
    out.push(`<rect x="${x}" y="${h - 22}" width="12" height="12" fill="${COLORS[si % COLORS.length]}"/>`,
      `<text x="${x + 16}" y="${h - 12}">${escape(s)}</text>`);
  });
  out.push('</svg>', '');
  return out.join('\n');
}
