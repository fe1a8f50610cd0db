// The escape guest on the bare emulated CPU (strategy `none`): the view of memory a VMM must
// reproduce exactly. The expectations follow from the paging and segmentation rules of the Intel
// SDM Vol. 3A (chapters 3-5) and from the PC board (RAM size, unbacked addresses read as all ones).
import { noneStrategy } from '@ringvisor/x86-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { runGuest, type GuestRun } from './support/run-guest.js';

let run: GuestRun;
const sections = new Map<string, Record<string, string>>();

beforeAll(() => {
  run = runGuest(noneStrategy, 'escape', { clock: 'virtual', timeoutMs: 60_000 });
  for (const line of run.output.split('\r\n')) {
    const match = /^escape: ([a-z-]+):(.*)$/.exec(line);
    if (!match) continue;
    const fields: Record<string, string> = {};
    for (const word of match[2].trim().split(' ')) {
      const at = word.indexOf('=');
      fields[word.slice(0, at)] = word.slice(at + 1);
    }
    sections.set(match[1], fields);
  }
}, 90_000);

const section = (name: string): Record<string, string> => {
  const fields = sections.get(name);
  if (!fields) throw new Error(`no '${name}' line in the guest's output`);
  return fields;
};
const hex = (n: number) => `0x${n.toString(16).padStart(8, '0')}`;
const pageFault = (error: number, cr2: number) => `#PF(${hex(error)},cr2=${hex(cr2)})`;

describe('escape on the emulated CPU', () => {
  it('runs to the end and exits 0', () => {
    expect([run.end, run.detail]).toEqual(['halted', undefined]);
    expect(run.output).toContain('escape: start');
    expect(run.output).toContain('escape: done');
    expect(run.exitStatus).toBe(1); // code 0
  });

  it('sees all of its 16 MiB, identity-mapped and through 4 MiB pages, coherent dword for dword', () => {
    expect(section('ram')).toEqual({ bytes: hex(16 << 20), 'identity-tables': hex(4), pse: hex(1) });
    const ram = section('free-ram');
    expect(ram.pages).toBe(hex((12 << 20) / 4096)); // 4 MiB .. 16 MiB
    expect(ram['nonzero-before']).toBe(hex(0)); // fresh RAM is zeroed by the board
    expect(ram['pattern-mismatches']).toBe(hex(0)); // one frame, two mappings, the same bytes
  });

  it('PTEs above RAM reach no memory: reads give all ones, writes vanish', () => {
    expect(section('above-ram')).toMatchObject({ physical: hex(16 << 20), 'all-ones': hex(1024), faults: hex(0), 'write-read': hex(0xffffffff) });
    expect(section('mmio')['pci-hole']).toBe(hex(0xffffffff));
  });

  it('the top 4 MiB of linear space is the guest\'s own: writable, checkable, faulting as its PTEs say', () => {
    const large = section('top-large-page');
    expect(large).toMatchObject({ physical: hex((16 - 4) << 20), mismatches: hex(0) });
    const pages = section('top-pages');
    expect(pages['last-dword']).toBe(large['last-dword']);
    expect(pages['present-again']).toBe(large['last-dword']); // same page, same fill
    // A dword at offset 0xFFFFFFFE of a 4 GiB segment is beyond the limit (offset > limit - 3): #GP(0).
    expect(pages['wrapping-dword']).toBe('#GP(0x00000000)');
    expect(pages['read-only-write']).toBe(pageFault(3, 0xffffe000)); // CR0.WP: P | W/R, supervisor
    expect(pages['absent-read']).toBe(pageFault(0, 0xfffff000));
  });

  it('GDT and IDT moved into the top page still deliver INT n and #PF', () => {
    expect(section('tables-at-top')).toEqual({ gdt: hex(0xfffff800), int: hex(1), 'page-0': pageFault(0, 0x10) });
  });

  it('its page tables, read through a self-mapping slot, carry the A and D bits the CPU set; stores to them take effect', () => {
    expect(section('page-tables')).toEqual({
      'self-pde': hex(0x23), // P, W, A: walked, and D is left alone in a PDE that points to a table
      'pde-0': hex(0x23),
      'pte-written': hex(0x60), // A and D
      'pte-read': hex(0x20), // A only
      'pte-untouched': hex(0),
      'alias-pde-untouched': hex(0x83), // PS, W, P
      'alias-pde-read': hex(0xa3), // a 4 MiB page's PDE is its last level: A set there
      remapped: hex(0x0b0b0b0b), // the PTE rewritten through the window, then INVLPG
      restored: hex(0x0a0a0a0a),
      cleared: pageFault(0, 0x410008),
    });
  });

  it('the sweep of all 1024 page-directory slots finds only what the guest mapped', () => {
    // 4 identity tables, 1 above RAM, 4 alias 4 MiB pages, 4 MMIO windows, the self-mapping slot, the top slot.
    const mapped = 4 + 1 + 4 + 4 + 1 + 1;
    // Every unmapped slot faults twice; slot 0 faults once (page 0 is absent, its last page is not).
    expect(section('sweep')).toMatchObject({ 'slots-mapped': hex(mapped), faults: hex(2 * (1024 - mapped) + 1) });
  });

  it('DPL-0 segments over the whole 4 GiB: bases wrap, limits and expand-down are enforced', () => {
    const segments = section('segments');
    const top = section('top-pages')['last-dword'];
    for (const name of ['flat-top', 'high-base-top', 'window-last', 'expand-down-high']) expect(segments[name], name).toBe(top);
    expect(segments['high-base-wrap']).toBe(pageFault(0, 0x10)); // 0x80000000 + 0x80000010 wraps to 0x10
    expect(segments['wrap-to-page-0']).toBe(pageFault(0, 0x10));
    expect(segments['window-beyond']).toBe('#GP(0x00000000)');
    expect(segments['expand-down-low']).toBe('#GP(0x00000000)'); // at or below the limit of an expand-down segment
    expect(segments['beyond-gdt']).toBe('#GP(0x00000080)');
    expect(segments['null-read']).toBe('#GP(0x00000000)'); // a null FS loads, using it faults
  });

  it('prints the same bytes on every run', () => {
    expect(runGuest(noneStrategy, 'escape', { clock: 'virtual', timeoutMs: 60_000 }).output).toBe(run.output);
  }, 90_000);
});
