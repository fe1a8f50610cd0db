// Kernel symbols for the guest profiler: a sorted table looked up by address, filled from a
// System.map or from the kallsyms tables the kernel carries in its own image (Debian's
// linux-image package ships a placeholder System.map; the real one is in the -dbg package).

export interface KernelSymbol {
  readonly address: number;
  /** nm's type letter: t/T text, w/W weak, … */
  readonly type: string;
  readonly name: string;
}

const TEXT_TYPES = new Set(['t', 'T', 'w', 'W']);
/** An address this far past the last text symbol belongs to something else (module, vmalloc). */
const TEXT_TAIL = 0x10000;

/** Text symbols sorted by address; `lookup` names the function an address lies in. */
export class SymbolTable {
  private readonly addresses: Float64Array;
  private readonly names: string[];

  constructor(symbols: Iterable<KernelSymbol>) {
    const text = [...symbols].filter((s) => TEXT_TYPES.has(s.type)).sort((a, b) => a.address - b.address);
    this.addresses = Float64Array.from(text, (s) => s.address);
    this.names = text.map((s) => s.name);
  }

  get size(): number {
    return this.names.length;
  }

  /** The symbol at or below `address`, or null outside the kernel's text. */
  lookup(address: number): string | null {
    const a = this.addresses;
    if (a.length === 0 || address < a[0] || address >= a[a.length - 1] + TEXT_TAIL) return null;
    let lo = 0;
    let hi = a.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (a[mid] <= address) lo = mid;
      else hi = mid - 1;
    }
    return this.names[lo];
  }
}

/** `c1000000 T _text` lines; anything else (Debian's placeholder line included) is skipped. */
export function parseSystemMap(text: string): KernelSymbol[] {
  const out: KernelSymbol[] = [];
  for (const line of text.split('\n')) {
    const m = /^([0-9a-f]{8}) (\w) (\S+)/i.exec(line);
    if (m) out.push({ address: parseInt(m[1], 16), type: m[2], name: m[3] });
  }
  return out;
}

// kallsyms as Linux 6.1's scripts/kallsyms lays it out for a 32-bit kernel with base-relative
// offsets, each table 4-byte aligned, in this order: offsets[N] (u32), relative_base (u32),
// num_syms (u32), names (per symbol a length, then that many token indices; a length with bit 7
// set continues in the next byte), markers[ceil(N/256)] (u32 offsets into names of every 256th
// symbol), seqs_of_names[N] (3 bytes each; only where stable backported it, as Debian's 6.1
// has), token_table (256 NUL-terminated strings), token_index[256] (u16 offsets into it).
// Digits always appear in symbol names, so tokens 0x30-0x39 are the digits themselves: the
// string "0\0"…"9\0" finds the token table.

const MAX_SYMBOLS = 1 << 21;
const MAX_TABLES = 16 << 20;
const DIGIT_TOKENS = Uint8Array.from('0\x001\x002\x003\x004\x005\x006\x007\x008\x009\x00', (c) => c.charCodeAt(0));

/** The kernel's symbols from a memory image holding its kallsyms tables, or null if none are found. */
export function readKallsyms(image: Uint8Array): KernelSymbol[] | null {
  const view = new DataView(image.buffer, image.byteOffset, image.byteLength);
  for (let at = indexOf(image, DIGIT_TOKENS, 0); at >= 0; at = indexOf(image, DIGIT_TOKENS, at + 1)) {
    const found = tablesAround(image, view, at);
    if (found) return found;
  }
  return null;
}

function tablesAround(image: Uint8Array, view: DataView, digitZero: number): KernelSymbol[] | null {
  // Token '0' is token 0x30: 48 strings precede it.
  let tableStart = digitZero;
  for (let i = 0; i < 0x30; i++) {
    if (tableStart < 2 || image[tableStart - 1] !== 0) return null;
    tableStart -= 2;
    while (tableStart > 0 && image[tableStart - 1] !== 0) tableStart--;
  }
  if (tableStart % 4 !== 0) return null;
  const tokens: string[] = [];
  let p = tableStart;
  for (let i = 0; i < 256; i++) {
    const end = image.indexOf(0, p);
    if (end < 0) return null;
    tokens.push(latin1(image, p, end));
    p = end + 1;
  }
  const tokenIndex = align4(p);
  if (tokenIndex + 512 > image.length) return null;
  let offset = 0;
  for (let i = 0; i < 256; i++) {
    if (view.getUint16(tokenIndex + 2 * i, true) !== offset) return null;
    offset += tokens[i].length + 1;
  }
  // num_syms lies somewhere below; try each aligned word as the count it would be.
  for (let at = tableStart - 8; at >= 4 && tableStart - at < MAX_TABLES; at -= 4) {
    const n = view.getUint32(at, true);
    if (n === 0 || n > MAX_SYMBOLS) continue;
    const markerBytes = 4 * Math.ceil(n / 256);
    for (const markersEnd of [tableStart, (tableStart - 3 * n) & ~3]) {
      const markersStart = markersEnd - markerBytes;
      if (markersStart <= at || view.getUint32(markersStart, true) !== 0) continue;
      const names = decodeNames(image, view, at + 4, n, markersStart, tokens);
      if (!names) continue;
      const offsets = at - 4 - 4 * n;
      if (offsets < 0) return null;
      const base = view.getUint32(at - 4, true);
      return names.map((full, i) => ({
        address: (base + view.getUint32(offsets + 4 * i, true)) >>> 0,
        type: full[0],
        name: full.slice(1),
      }));
    }
  }
  return null;
}

/** Expands `count` names starting at `from`; null unless they end in the padding before `end` and match the markers. */
function decodeNames(image: Uint8Array, view: DataView, from: number, count: number, end: number, tokens: string[]): string[] | null {
  const names: string[] = [];
  let p = from;
  for (let i = 0; i < count; i++) {
    if (i % 256 === 0 && view.getUint32(end + 4 * (i / 256), true) !== p - from) return null;
    if (p >= end) return null;
    let len = image[p++];
    if (len & 0x80) len = (len & 0x7f) | (image[p++] << 7);
    if (len === 0 || p + len > end) return null;
    let name = '';
    for (let k = 0; k < len; k++) name += tokens[image[p + k]];
    names.push(name);
    p += len;
  }
  return align4(p) === end ? names : null;
}

function align4(n: number): number {
  return (n + 3) & ~3;
}

function latin1(bytes: Uint8Array, from: number, to: number): string {
  let s = '';
  for (let i = from; i < to; i++) s += String.fromCharCode(bytes[i]);
  return s;
}

function indexOf(haystack: Uint8Array, needle: Uint8Array, from: number): number {
  for (let at = haystack.indexOf(needle[0], from); at >= 0; at = haystack.indexOf(needle[0], at + 1)) {
    let k = 1;
    while (k < needle.length && haystack[at + k] === needle[k]) k++;
    if (k === needle.length) return at;
  }
  return -1;
}
