import { describe, expect, it } from 'vitest';
import { callers, callerTable, inclusiveTable, placeOf, timeline, topTable } from '../src/profile/report.js';
import { parseSystemMap, readKallsyms, SymbolTable, type KernelSymbol } from '../src/profile/symbols.js';

// The profiler's symbolizer: System.map lines, kallsyms tables found in a memory image (built here
// the way Linux's scripts/kallsyms lays them out), lookups, and the report built from samples.

const SYMBOLS: KernelSymbol[] = [
  { address: 0xc1000000, type: 'T', name: 'startup_32' },
  { address: 0xc1000100, type: 't', name: 'do_one_initcall' },
  { address: 0xc1000380, type: 'T', name: 'mpi_mul' },
  { address: 0xc1000400, type: 'D', name: 'some_data' },
  { address: 0xc1000500, type: 'W', name: 'weak_thing' },
  ...Array.from({ length: 300 }, (_, i) => ({ address: 0xc1001000 + 16 * i, type: 't', name: `helper_${i}` })),
  { address: 0xc1004000, type: 'T', name: 'a_function_with_a_name_longer_than_one_hundred_and_twenty_seven_characters_' + 'x'.repeat(80) },
];

/** Token table: every byte stands for itself, except a few bytes no name uses, which stand for common strings. */
function tokenTable(): string[] {
  const tokens = Array.from({ length: 256 }, (_, i) => String.fromCharCode(i));
  tokens[0x01] = 'helper_';
  tokens[0x02] = 'Tmpi';
  tokens[0x03] = 'tdo_';
  tokens[0x00] = 'ion';
  return tokens;
}

function encode(name: string, tokens: string[]): number[] {
  const out: number[] = [];
  for (let i = 0; i < name.length;) {
    let best = name.charCodeAt(i);
    let length = 1;
    tokens.forEach((t, b) => {
      if (t.length > length && name.startsWith(t, i)) {
        best = b;
        length = t.length;
      }
    });
    out.push(best);
    i += length;
  }
  return out;
}

/** A memory image with kallsyms tables at a random-looking offset (with Debian's seqs_of_names when asked). */
function kallsymsImage(symbols: KernelSymbol[], withSeqs: boolean): Uint8Array {
  const tokens = tokenTable();
  const bytes: number[] = Array.from({ length: 1000 }, (_, i) => (i * 37) & 0xff);
  const u32 = (v: number) => bytes.push(v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24);
  const align = () => { while (bytes.length % 4) bytes.push(0); };
  const base = 0xc1000000;
  for (const s of symbols) u32(s.address - base);
  u32(base);
  u32(symbols.length);
  const namesStart = bytes.length;
  const markers: number[] = [];
  symbols.forEach((s, i) => {
    if (i % 256 === 0) markers.push(bytes.length - namesStart);
    const encoded = encode(s.type + s.name, tokens);
    if (encoded.length > 127) bytes.push((encoded.length & 0x7f) | 0x80, encoded.length >> 7);
    else bytes.push(encoded.length);
    bytes.push(...encoded);
  });
  align();
  markers.forEach(u32);
  if (withSeqs) for (let i = 0; i < symbols.length; i++) bytes.push(i & 0xff, (i >> 8) & 0xff, 0);
  align();
  const offsets: number[] = [];
  let offset = 0;
  for (const t of tokens) {
    offsets.push(offset);
    for (const c of t) bytes.push(c.charCodeAt(0));
    bytes.push(0);
    offset += t.length + 1;
  }
  align();
  for (const o of offsets) bytes.push(o & 0xff, o >> 8);
  bytes.push(...Array.from({ length: 100 }, (_, i) => i));
  return Uint8Array.from(bytes);
}

describe('profiler symbols', () => {
  it('reads a System.map and skips Debian\'s placeholder line', () => {
    const map = parseSystemMap('ffffffffffffffff B The real System.map is in the linux-image-<version>-dbg package\n' +
      'c1000000 T _text\nc1000100 t do_one_initcall\n');
    expect(map).toEqual([
      { address: 0xc1000000, type: 'T', name: '_text' },
      { address: 0xc1000100, type: 't', name: 'do_one_initcall' },
    ]);
  });

  it('looks addresses up among text symbols only', () => {
    const table = new SymbolTable(SYMBOLS);
    expect(table.lookup(0xc1000000)).toBe('startup_32');
    expect(table.lookup(0xc10003ff)).toBe('mpi_mul');
    expect(table.lookup(0xc1000450)).toBe('mpi_mul'); // data symbols do not end a function
    expect(table.lookup(0xc1000500)).toBe('weak_thing');
    expect(table.lookup(0xc100100f)).toBe('helper_0');
    expect(table.lookup(0xbfffffff)).toBeNull();
    expect(table.lookup(0xf8000000)).toBeNull(); // module space, far past the kernel's text
  });

  for (const withSeqs of [false, true]) {
    it(`finds kallsyms tables in a memory image${withSeqs ? ' with seqs_of_names' : ''}`, () => {
      const found = readKallsyms(kallsymsImage(SYMBOLS, withSeqs));
      expect(found).toEqual(SYMBOLS);
    });
  }

  it('finds nothing in an image without kallsyms', () => {
    expect(readKallsyms(Uint8Array.from({ length: 5000 }, (_, i) => (i * 131) & 0xff))).toBeNull();
    const digitsOnly = new Uint8Array(400);
    digitsOnly.set(Array.from('0\x001\x002\x003\x004\x005\x006\x007\x008\x009\x00', (c) => c.charCodeAt(0)), 200);
    expect(readKallsyms(digitsOnly)).toBeNull();
  });

  it('names samples and reports top functions and the timeline', () => {
    const table = new SymbolTable(SYMBOLS);
    const samples = [
      { eip: 0x1000200, paging: false, user: false, ebp: 0 },
      { eip: 0xc1000390, paging: true, user: false, ebp: 0 },
      { eip: 0xc1000390, paging: true, user: false, ebp: 0 },
      { eip: 0x08048000, paging: true, user: true, ebp: 0 },
    ];
    const names = samples.map((s) => placeOf(s, table));
    expect(names).toEqual(['decompressor (paging off)', 'mpi_mul', 'mpi_mul', '[user space]']);
    expect(topTable(names, 100_000, 2).split('\n')).toEqual([
      ' share     guest  function',
      ' 50.0%    0.00 s  mpi_mul',
      ' 25.0%    0.00 s  decompressor (paging off)',
    ]);
    const lines = timeline(names, [{ text: '[    0.100000] Linux version', guestNs: 1e8, sampleIndex: 1 }], 4e8, 0.5);
    expect(lines).toContain('after: [    0.100000] Linux version');
    expect(lines).toContain('mpi_mul 66.7%');
    expect(lines).not.toContain('(start)');
  });

  it('walks frame pointers up the kernel stack and counts callers once per sample', () => {
    // Frames at physical 0x2000 -> 0x2100 -> 0x2200 (virtual +0xc0000000); the last links downward.
    const words = new Map<number, number>([
      [0x2000, 0xc0002100], [0x2004, 0xc1000120],
      [0x2100, 0xc0002200], [0x2104, 0xc1000390],
      [0x2200, 0xc0002000], [0x2204, 0xc1000010],
    ]);
    const read32 = (phys: number) => words.get(phys) ?? 0;
    expect(callers(0xc0002000, read32, 0x100000, 10)).toEqual([0xc1000120, 0xc1000390, 0xc1000010]);
    expect(callers(0xc0002000, read32, 0x100000, 2)).toEqual([0xc1000120, 0xc1000390]);
    expect(callers(0x00002000, read32, 0x100000, 10)).toEqual([]); // not a kernel address
    expect(callers(0xc0200000, read32, 0x100000, 10)).toEqual([]); // beyond RAM
    const table = new SymbolTable(SYMBOLS);
    const stacks = [
      ['mpi_mul', ...[0xc1000120, 0xc1000390].map((r) => table.lookup(r) ?? '?')],
      ['startup_32'],
    ];
    expect(callerTable([...stacks, ['mpi_mul', 'x'], ['mpi_mul', 'x']], 'mpi_mul', 1, 5).split('\n')).toEqual([
      ' 66.7%  mpi_mul < x',
      ' 33.3%  mpi_mul < do_one_initcall',
    ]);
    expect(inclusiveTable(stacks, 1e9, 3).split('\n')).toEqual([
      ' share     guest  function (itself or its callees)',
      ' 50.0%    1.00 s  mpi_mul',
      ' 50.0%    1.00 s  do_one_initcall',
      ' 50.0%    1.00 s  startup_32',
    ]);
  });
});
