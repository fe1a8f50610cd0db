import { describe, expect, it } from 'vitest';
import type { Cpu } from '../../src/cpu.js';
import { writeControlRegister } from '../../src/system/index.js';
import type { Machine } from '../pm/machine.js';
import { CODE, longMachine } from './machine.js';

// The second compile of a hot 64-bit block (long/inline-memory.ts): plain memory operands read and
// written inline through the TLBs. Each case runs on a CPU that compiles every entry at once and
// again inline on its next run, and on one that only interprets; after every run both must agree
// on the stop, registers, RIP, RFLAGS, CR2, retired count and all of RAM (page tables included, so
// accessed and dirty bits too), and the compiling CPU must have compiled inline.

const le32 = (v: number): number[] => [v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff, (v >>> 24) & 0xff];

/** A 4 KiB page table for linear 0-2 MiB (identity, user-writable) in place of the first 2 MiB page. */
const PT = 0x73000;
/** A page the tests remap, and physical pages they map it to. */
const DATA = 0x150000;
const OTHER = 0x160000;
/** An MMIO window (over RAM, in the identity-mapped second 2 MiB). */
const MMIO = 0x300000;

function state(m: Machine): string {
  const { cpu } = m;
  const s = cpu.stop;
  return `${Array.from(cpu.reg32).join(',')} ${Array.from(cpu.regHi).join(',')} ${cpu.ripHi}:${cpu.eip} ${cpu.getEflags()} ` +
    `cr2=${cpu.cr2Hi}:${cpu.cr2} retired=${cpu.retired} stop=${s.reason}/${s.vector}/${s.errorCode}`;
}

interface Pair {
  readonly compiled: Machine;
  readonly interpreted: Machine;
  /** Both machines, compiled first. */
  readonly both: readonly Machine[];
}

/** The two machines of `code` with the 4 KiB table for 0-2 MiB, each after `setup`. */
function pair(code: number[], setup: (m: Machine) => void = () => {}): Pair {
  const make = (compile: boolean): Machine => {
    const m = longMachine(code);
    const { cpu, physical } = m;
    if (compile) {
      const cache = cpu.blockCache;
      if (cache === null) throw new Error('no block cache');
      cache.hotRuns = 1;
      cache.inlineRuns64 = 1;
    } else cpu.intercepts.anyOpcode = true; // no opcode is intercepted: this only keeps blocks out
    physical.write32(0x72000, PT | 7);
    for (let p = 0; p < 512; p++) physical.write32(PT + 8 * p, (p << 12) | 7);
    cpu.reg32[2] = 0; // RDX: the tests sum into it (EDX holds the CPU signature after RESET)
    setup(m);
    return m;
  };
  const compiled = make(true);
  const interpreted = make(false);
  return { compiled, interpreted, both: [compiled, interpreted] };
}

/** Runs both from RIP `at` (default: where they are) with `budget`; they must stop and end alike. */
function runBoth(p: Pair, budget: number, at?: number): string {
  const stops = p.both.map((m) => {
    if (at !== undefined) {
      m.cpu.eip = at;
      m.cpu.ripHi = 0;
    }
    m.cpu.halted = false;
    return m.cpu.run(budget);
  });
  expect(stops[0]).toBe(stops[1]);
  expect(state(p.compiled)).toBe(state(p.interpreted));
  expect(Buffer.from(p.compiled.physical.ram).equals(Buffer.from(p.interpreted.physical.ram))).toBe(true);
  return stops[0];
}

/** Runs of one pass each of the loop at CODE of `count` instructions: its block is compiled, compiled again inline, and run inline. */
function warm(p: Pair, count: number): void {
  for (let run = 0; run < 3; run++) runBoth(p, count, CODE);
}

function inlined(cpu: Cpu): number {
  return cpu.longBlocks?.inlined ?? 0;
}

/** A loop of ECX passes over qwords at RBX: load, add to RDX, store back plus one, ADD [rbx], RSI (a read-modify-write). */
const WALK = [
  0x48, 0x8b, 0x03, //              top: mov rax, [rbx]
  0x48, 0x01, 0xc2, //                   add rdx, rax
  0x48, 0xff, 0xc0, //                   inc rax
  0x48, 0x89, 0x03, //                   mov [rbx], rax
  0x48, 0x01, 0x33, //                   add [rbx], rsi
  0x48, 0x83, 0xc3, 0x08, //             add rbx, 8
  0xff, 0xc9, //                         dec ecx
  0x75, 0x100 - 23, //                   jnz top
  0xf4, //                               hlt
];

function walkFrom(p: Pair, rbx: number, passes: number): void {
  for (const m of p.both) {
    m.cpu.reg32[3] = rbx;
    m.cpu.regHi[3] = 0;
    m.cpu.reg32[1] = passes;
    m.cpu.reg32[6] = 0x01010101;
  }
}

describe('64-bit blocks with inline memory operands', () => {
  it('load, store and read-modify-write RAM as the interpreter does, across budgets that cut the loop', () => {
    const p = pair(WALK, (m) => {
      for (let i = 0; i < 64; i++) m.physical.write32(DATA + 4 * i, Math.imul(i + 1, 0x9e3779b1));
    });
    walkFrom(p, DATA, 100);
    for (let run = 0; run < 30; run++) runBoth(p, 1 + ((run * 13) % 17));
    expect(runBoth(p, 1000)).toBe('hlt');
    expect(inlined(p.compiled.cpu)).toBeGreaterThanOrEqual(1);
    expect(p.compiled.cpu.longBlocks?.retired).toBeGreaterThan(200);
  });

  it('fault on a later pass as the interpreter does (#PF on a not-present page: RIP, RDX, retired count, CR2)', () => {
    const p = pair(WALK, (m) => m.physical.write32(PT + 8 * ((DATA >>> 12) + 1), 0));
    walkFrom(p, DATA + 4096 - 8 * 20, 40);
    warm(p, 8);
    expect(runBoth(p, 10_000)).toBe('exception');
    expect([p.compiled.cpu.stop.vector, p.compiled.cpu.stop.errorCode, p.compiled.cpu.cr2]).toEqual([14, 0, DATA + 4096]);
    expect(p.compiled.cpu.eip).toBe(CODE);
    expect(inlined(p.compiled.cpu)).toBeGreaterThanOrEqual(1);
  });

  it('fault on a store to a read-only page whose read the TLB holds (#PF P|W), and set dirty bits through the walk', () => {
    // The page is read first (its TLB entry allows reads), then written: the inline store must miss.
    const readThenWrite = [
      0x48, 0x8b, 0x03, //          top: mov rax, [rbx]
      0x48, 0x89, 0x03, //               mov [rbx], rax
      0x48, 0x83, 0xc3, 0x08, //         add rbx, 8
      0xff, 0xc9, //                     dec ecx
      0x75, 0x100 - 14, //               jnz top
      0xf4,
    ];
    const p = pair(readThenWrite, (m) => m.physical.write32(PT + 8 * ((DATA >>> 12) + 1), (DATA + 4096) | 5));
    walkFrom(p, DATA + 4096 - 8 * 10, 30);
    warm(p, 5);
    expect(runBoth(p, 10_000)).toBe('exception');
    expect([p.compiled.cpu.stop.vector, p.compiled.cpu.stop.errorCode, p.compiled.cpu.cr2]).toEqual([14, 3, DATA + 4096]);
    // The first page's PTE got A and D from the walks (compared with the interpreter's above).
    expect(p.compiled.physical.read32(PT + 8 * (DATA >>> 12)) & 0x60).toBe(0x60);
    expect(inlined(p.compiled.cpu)).toBeGreaterThanOrEqual(1);
  });

  it('split an access across a page end between two physical pages that are not adjacent', () => {
    // mov [rbx + rdi], rax; mov rcx2.. : qword, dword and word stores and loads straddling the end.
    const code = [
      0x48, 0x89, 0x04, 0x3b, //    top: mov [rbx + rdi], rax
      0x48, 0x8b, 0x0c, 0x3b, //         mov rcx, [rbx + rdi]
      0x48, 0x01, 0xca, //               add rdx, rcx
      0x89, 0x44, 0x3b, 0x40, //         mov [rbx + rdi + 64], eax
      0x66, 0x01, 0x44, 0x3b, 0x20, //   add [rbx + rdi + 32], ax
      0x48, 0xff, 0xc7, //               inc rdi
      0x48, 0x05, ...le32(0x1234567), // add rax, 0x1234567
      0xff, 0xce, //                     dec esi
      0x75, 0x100 - 33, //               jnz top
      0xf4,
    ];
    const p = pair(code, (m) => m.physical.write32(PT + 8 * ((DATA >>> 12) + 1), OTHER | 7));
    for (const m of p.both) {
      m.cpu.reg32[3] = DATA + 4096 - 80;
      m.cpu.reg32[7] = 0;
      m.cpu.reg32[6] = 80;
      m.cpu.reg32[0] = 0x89abcdef | 0;
      m.cpu.regHi[0] = 0x01234567;
    }
    for (let run = 0; run < 8; run++) runBoth(p, 10 + run * 3);
    expect(runBoth(p, 10_000)).toBe('hlt');
    // The bytes past the page end went to OTHER, not to the physical page after DATA's.
    expect(p.compiled.physical.read32(OTHER)).not.toBe(0);
    expect(p.compiled.physical.read32(DATA + 4096)).toBe(0);
    expect(inlined(p.compiled.cpu)).toBeGreaterThanOrEqual(1);
  });

  it('see their stores to a code page: their own code, and another compiled block\'s', () => {
    const target = CODE + 0x2000;
    const code = [
      0x88, 0x0b, //                top: mov [rbx], cl        (data, then the immediate below)
      0xb8, 0, 0, 0, 0, //               mov eax, 0
      0x48, 0x01, 0xc2, //               add rdx, rax
      0x89, 0x0f, //                     mov [rdi], ecx       (data, then the other block's immediate)
      0xff, 0xc9, //                     dec ecx
      0x75, 0x100 - 16, //               jnz top
      0xf4,
    ];
    const p = pair(code, (m) => {
      m.physical.writeBytes(target, Uint8Array.from([0xbe, ...le32(99), 0x48, 0x01, 0xf2, 0x48, 0x89, 0x74, 0x24, 0xf8, 0xf4])); // mov esi, imm; add rdx, rsi; mov [rsp-8], rsi; hlt
      // Both code pages accessed and dirty: their TLB entries allow the stores, so only the page kind sends them to the bus.
      for (const at of [CODE, target]) m.physical.write32(PT + 8 * (at >>> 12), at | 0x67);
    });
    // Both blocks are hot and inline before the loop stores into code.
    for (let i = 0; i < 3; i++) runBoth(p, 100, target);
    for (const m of p.both) {
      m.cpu.reg32[1] = 1000;
      m.cpu.reg32[3] = DATA;
      m.cpu.reg32[7] = DATA + 8;
    }
    warm(p, 6);
    expect(inlined(p.compiled.cpu)).toBeGreaterThanOrEqual(2);
    for (const m of p.both) {
      m.cpu.reg32[1] = 10;
      m.cpu.reg32[2] = 0;
      m.cpu.reg32[3] = CODE + 3;
      m.cpu.reg32[7] = target + 1;
    }
    expect(runBoth(p, 1000, CODE)).toBe('hlt');
    // Each pass loads the CL it has just stored into its own immediate: 10 + 9 + ... + 1.
    expect(p.compiled.cpu.reg32[2]).toBe(55);
    expect(runBoth(p, 1000, target)).toBe('hlt');
    expect(p.compiled.cpu.reg32[2]).toBe(55 + 1);
  });

  it('send MMIO through the bus: every read and write, in order, and end the block after each', () => {
    const code = [
      0x8b, 0x03, //                top: mov eax, [rbx]
      0x01, 0xc2, //                     add edx, eax
      0x89, 0x53, 0x04, //               mov [rbx + 4], edx
      0xff, 0xc9, //                     dec ecx
      0x75, 0x100 - 11, //               jnz top
      0xf4,
    ];
    const logs: string[][] = [];
    const p = pair(code, (m) => {
      const log: string[] = [];
      logs.push(log);
      let next = 7;
      m.physical.addMmio(MMIO, 4096, {
        mmioRead: (offset, size) => {
          log.push(`r${offset}/${size}`);
          return (next += 3);
        },
        mmioWrite: (offset, size, value) => log.push(`w${offset}/${size}=${value}`),
      });
    });
    walkFrom(p, MMIO, 20);
    for (let run = 0; run < 10; run++) runBoth(p, 5 + run);
    expect(runBoth(p, 1000)).toBe('hlt');
    expect(logs[0]).toEqual(logs[1]);
    expect(logs[0].length).toBe(40);
  });

  it('read the new page after INVLPG or a CR3 load between runs, and the old one while the TLB still holds it', () => {
    const code = [
      0x48, 0x8b, 0x03, //          top: mov rax, [rbx]
      0x48, 0x01, 0xc2, //               add rdx, rax
      0xff, 0xc9, //                     dec ecx
      0x75, 0x100 - 10, //               jnz top
      0xf4,
    ];
    const flush = CODE + 0x3000;
    const p = pair(code, (m) => {
      m.physical.write32(DATA, 5);
      m.physical.write32(OTHER, 1000);
      m.physical.writeBytes(flush, Uint8Array.from([0x0f, 0x01, 0x3b, 0xf4])); // invlpg [rbx]; hlt
    });
    const loop = (): void => {
      for (const m of p.both) {
        m.cpu.reg32[3] = DATA;
        m.cpu.reg32[1] = 4;
      }
      expect(runBoth(p, 100, CODE)).toBe('hlt');
    };
    const remap = (to: number): void => {
      for (const m of p.both) m.physical.write32(PT + 8 * (DATA >>> 12), to | 7);
    };
    loop();
    loop();
    remap(OTHER);
    loop(); // stale: the TLB still maps DATA
    expect(p.compiled.cpu.reg32[2]).toBe(3 * 4 * 5);
    for (const m of p.both) m.cpu.reg32[3] = DATA;
    expect(runBoth(p, 100, flush)).toBe('hlt');
    loop();
    expect(p.compiled.cpu.reg32[2]).toBe(3 * 4 * 5 + 4 * 1000);
    remap(DATA);
    for (const m of p.both) writeControlRegister(m.cpu, 3, 0x70000);
    loop();
    expect(p.compiled.cpu.reg32[2]).toBe(4 * 4 * 5 + 4 * 1000);
    expect(inlined(p.compiled.cpu)).toBeGreaterThanOrEqual(1);
  });

  it('read and write pages above 4 GiB through the high cache, FS/GS-relative and 32-bit-addressed operands', () => {
    const code = [
      0x48, 0x8b, 0x03, //                         top: mov rax, [rbx]          (0xffffffff80000000 + ...)
      0x48, 0x89, 0x53, 0x08, //                        mov [rbx + 8], rdx      (read first: the walk sets D)
      0x65, 0x48, 0x01, 0x04, 0x25, ...le32(8), //      add gs:[8], rax
      0x64, 0x48, 0x8b, 0x4b, 0x10, //                  mov rcx, fs:[rbx + 16]
      0x48, 0x01, 0xca, //                              add rdx, rcx
      0x67, 0x89, 0x17, //                              mov [edi], edx          (32-bit address)
      0x48, 0x83, 0xc3, 0x08, //                        add rbx, 8
      0xff, 0xce, //                                    dec esi
      0x75, 0x100 - 35, //                              jnz top
      0xf4,
    ];
    const p = pair(code, (m) => {
      // 0xffffffff80000000: PML4 511, PDPT 510, PD 0 -> a table mapping its first page to DATA.
      m.physical.write32(0x70000 + 8 * 511, 0x74003);
      m.physical.write32(0x74000 + 8 * 510, 0x75003);
      m.physical.write32(0x75000, 0x76003);
      m.physical.write32(0x76000, DATA | 3);
      m.physical.writeBytes(CODE + 0x3000, Uint8Array.from([0x0f, 0x01, 0x38, 0xf4])); // invlpg [rax]; hlt
      for (let i = 0; i < 64; i++) m.physical.write32(DATA + 4 * i, i * 0x01000193);
      const { cpu } = m;
      cpu.segBase[5] = OTHER; // GS
      cpu.segBase[4] = 0xf00; // FS: plus RBX's high address, still canonical
      cpu.long.segBaseHi[4] = 0;
      cpu.reg32[3] = 0x80000000 | 0;
      cpu.regHi[3] = -1;
      cpu.reg32[7] = OTHER + 0x100;
      cpu.regHi[7] = 0x5555; // ignored by the 32-bit address
      cpu.reg32[6] = 100;
    });
    for (let run = 0; run < 12; run++) runBoth(p, 9 + run * 5);
    // The high page made clean again and INVLPG'd (code on another page): the inline loop's next
    // read caches it without D, so its store must take the call, whose walk sets D.
    for (const { cpu, physical } of p.both) {
      physical.write32(0x76000, DATA | 0x23);
      cpu.reg32[0] = cpu.reg32[3];
      cpu.regHi[0] = -1;
    }
    expect(runBoth(p, 100, CODE + 0x3000)).toBe('hlt');
    expect(p.compiled.physical.read32(0x76000) & 0x40).toBe(0);
    // From the top (the pass cut short runs again): FS + RBX + 16 reaches the second high page, not
    // mapped, on pass 31: #PF at a high CR2.
    expect(runBoth(p, 10_000, CODE)).toBe('exception');
    expect(p.compiled.physical.read32(0x76000) & 0x40).toBe(0x40);
    expect([p.compiled.cpu.stop.vector, p.compiled.cpu.cr2Hi]).toEqual([14, -1]);
    expect(inlined(p.compiled.cpu)).toBeGreaterThanOrEqual(1);
  });

  it('compile a block whose operands all keep their calls (a 32-bit address) again too', () => {
    const code = [
      0x67, 0x8b, 0x03, //          top: mov eax, [ebx]
      0x01, 0xc2, //                     add edx, eax
      0xff, 0xc9, //                     dec ecx
      0x75, 0x100 - 9, //                jnz top
      0xf4,
    ];
    const p = pair(code, (m) => m.physical.write32(DATA, 3));
    walkFrom(p, DATA, 50);
    for (const m of p.both) m.cpu.regHi[3] = 0x1234;
    warm(p, 4);
    expect(runBoth(p, 1000)).toBe('hlt');
    expect(p.compiled.cpu.reg32[2]).toBe(150);
    expect(inlined(p.compiled.cpu)).toBeGreaterThanOrEqual(1);
  });
});
