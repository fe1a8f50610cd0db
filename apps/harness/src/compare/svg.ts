// compare.svg: host ns per operation on a log scale, one group of bars per benchmark and one bar
// per strategy (the layout of Adams & Agesen's Figure 4). Plain SVG text, no dependencies.
import type { CompareReport } from './report.js';

const COLORS = ['#4c72b0', '#dd8452', '#55a868', '#c44e52', '#8172b3', '#937860'];
const W = 960;
const H = 420;
const LEFT = 70;
const RIGHT = 20;
const TOP = 40;
const BOTTOM = 110;

const escape = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

export function compareSvg(report: CompareReport): string {
  const strategies = report.strategies.filter((s) => s.ran).map((s) => s.name);
  const benchmarks = [...new Set(report.results.map((r) => r.benchmark))];
  const value = (b: string, s: string): number | null => {
    const r = report.results.find((x) => x.benchmark === b && x.strategy === s);
    return r && 'hostNs' in r && r.hostNs > 0 ? r.hostNs : null;
  };
  const values = benchmarks.flatMap((b) => strategies.map((s) => value(b, s))).filter((v): v is number => v !== null);
  const lo = Math.floor(Math.log10(Math.min(...values, 10)));
  const hi = Math.ceil(Math.log10(Math.max(...values, 100)));
  const plotH = H - TOP - BOTTOM;
  const y = (v: number): number => TOP + plotH * (1 - (Math.log10(v) - lo) / (hi - lo));
  const groupW = (W - LEFT - RIGHT) / Math.max(1, benchmarks.length);
  const barW = (groupW * 0.8) / Math.max(1, strategies.length);
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="11">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="18" text-anchor="middle" font-size="14">Host ns per operation (log scale)${report.quick ? ' — quick run' : ''}</text>`,
  ];
  for (let e = lo; e <= hi; e++) {
    const yy = y(10 ** e).toFixed(1);
    out.push(`<line x1="${LEFT}" x2="${W - RIGHT}" y1="${yy}" y2="${yy}" stroke="#ddd"/>`,
      `<text x="${LEFT - 6}" y="${yy}" text-anchor="end" dominant-baseline="middle">1e${e}</text>`);
  }
  benchmarks.forEach((b, gi) => {
    const x0 = LEFT + gi * groupW + groupW * 0.1;
    strategies.forEach((s, si) => {
      const v = value(b, s);
      if (v === null) return;
      const top = y(v);
      out.push(`<rect x="${(x0 + si * barW).toFixed(1)}" y="${top.toFixed(1)}" width="${(barW * 0.9).toFixed(1)}" height="${(TOP + plotH - top).toFixed(1)}" fill="${COLORS[si % COLORS.length]}"><title>${escape(`${b} ${s}: ${v.toFixed(0)} ns`)}</title></rect>`);
    });
    const cx = (x0 + groupW * 0.4).toFixed(1);
    out.push(`<text x="${cx}" y="${TOP + plotH + 14}" text-anchor="end" transform="rotate(-35 ${cx} ${TOP + plotH + 14})">${escape(b)}</text>`);
  });
  out.push(`<line x1="${LEFT}" x2="${W - RIGHT}" y1="${TOP + plotH}" y2="${TOP + plotH}" stroke="black"/>`);
  strategies.forEach((s, si) => {
    const x = LEFT + si * 110;
    out.push(`<rect x="${x}" y="${H - 22}" width="12" height="12" fill="${COLORS[si % COLORS.length]}"/>`,
      `<text x="${x + 16}" y="${H - 12}">${escape(s)}</text>`);
  });
  out.push('</svg>', '');
  return out.join('\n');
}
