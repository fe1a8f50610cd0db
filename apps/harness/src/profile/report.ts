import type { Sample } from './sampler.js';
import type { SymbolTable } from './symbols.js';

/** A line the guest printed on its console, and the guest time and sample count when it did. */
export interface ConsoleLine {
  readonly text: string;
  readonly guestNs: number;
  /** Samples taken before the line was printed. */
  readonly sampleIndex: number;
}

export const KERNEL_BASE = 0xc0000000;

/** The name a sample is counted under: a kernel function, or the kind of code it was in. */
export function placeOf(sample: Sample, symbols: SymbolTable): string {
  if (!sample.paging) return 'decompressor (paging off)';
  if (sample.user) return '[user space]';
  if (sample.eip >>> 0 < KERNEL_BASE) return '[kernel, low address]';
  return symbols.lookup(sample.eip >>> 0) ?? '[module or vmalloc code]';
}

/**
 * Return addresses up the kernel stack from frame pointer `ebp` (Debian's i686 kernel keeps frame
 * pointers: [ebp] is the caller's frame, [ebp+4] the return address). Stops at the first frame
 * outside lowmem or not above the previous one. `read32` reads guest-physical memory.
 */
export function callers(ebp: number, read32: (phys: number) => number, lowmemEnd: number, depth: number): number[] {
  const out: number[] = [];
  let frame = ebp >>> 0;
  while (out.length < depth && frame >= KERNEL_BASE && frame - KERNEL_BASE + 8 <= lowmemEnd) {
    out.push(read32(frame - KERNEL_BASE + 4) >>> 0);
    const next = read32(frame - KERNEL_BASE) >>> 0;
    if (next <= frame) break;
    frame = next;
  }
  return out;
}

/** Sample counts by name, largest first. */
export function tally(names: readonly string[], from = 0, to = names.length): [string, number][] {
  const counts = new Map<string, number>();
  for (let i = from; i < to; i++) counts.set(names[i], (counts.get(names[i]) ?? 0) + 1);
  return [...counts].sort((a, b) => b[1] - a[1]);
}

const pct = (part: number, whole: number): string => `${((100 * part) / Math.max(1, whole)).toFixed(1)}%`;
const secs = (ns: number): string => `${(ns / 1e9).toFixed(2)} s`;

/** The top-functions table: share of samples, guest seconds at `nsPerSample`, name. */
export function topTable(names: readonly string[], nsPerSample: number, top: number): string {
  const rows = tally(names).slice(0, top);
  const lines = [`${'share'.padStart(6)}  ${'guest'.padStart(8)}  function`];
  for (const [name, n] of rows) lines.push(`${pct(n, names.length).padStart(6)}  ${secs(n * nsPerSample).padStart(8)}  ${name}`);
  return lines.join('\n');
}

/** Samples in which each function is on the stack (the leaf or a caller), counted once per sample. */
export function inclusiveTable(stacks: readonly (readonly string[])[], nsPerSample: number, top: number): string {
  const counts = new Map<string, number>();
  for (const stack of stacks) for (const name of new Set(stack)) counts.set(name, (counts.get(name) ?? 0) + 1);
  const rows = [...counts].sort((a, b) => b[1] - a[1]).slice(0, top);
  const lines = [`${'share'.padStart(6)}  ${'guest'.padStart(8)}  function (itself or its callees)`];
  for (const [name, n] of rows) lines.push(`${pct(n, stacks.length).padStart(6)}  ${secs(n * nsPerSample).padStart(8)}  ${name}`);
  return lines.join('\n');
}

/** The most common call chains (leaf first, up to `depth` callers) of the samples whose leaf is `leaf`. */
export function callerTable(stacks: readonly (readonly string[])[], leaf: string, depth: number, top: number): string {
  const chains = stacks.filter((s) => s[0] === leaf).map((s) => s.slice(1, depth + 1).join(' < '));
  const rows = tally(chains).slice(0, top);
  return rows.map(([chain, n]) => `${pct(n, chains.length).padStart(6)}  ${leaf} < ${chain}`).join('\n');
}

/**
 * The boot as intervals between console lines: each interval long enough to matter (at least
 * `minShare` of all samples), in order, with the line that opened it and its top functions.
 */
export function timeline(names: readonly string[], lines: readonly ConsoleLine[], endNs: number, minShare: number): string {
  const out: string[] = [];
  const bounds = [{ text: '(start)', guestNs: 0, sampleIndex: 0 }, ...lines];
  for (let i = 0; i < bounds.length; i++) {
    const from = bounds[i];
    const toIndex = i + 1 < bounds.length ? bounds[i + 1].sampleIndex : names.length;
    const toNs = i + 1 < bounds.length ? bounds[i + 1].guestNs : endNs;
    const count = toIndex - from.sampleIndex;
    if (count < minShare * names.length) continue;
    const top = tally(names, from.sampleIndex, toIndex).slice(0, 4).map(([n, c]) => `${n} ${pct(c, count)}`);
    out.push(`${secs(from.guestNs).padStart(9)} +${secs(toNs - from.guestNs).padStart(8)} (${pct(count, names.length).padStart(5)})  after: ${from.text.slice(0, 90)}`);
    out.push(`${''.padStart(30)}${top.join(', ')}`);
  }
  return out.join('\n');
}
