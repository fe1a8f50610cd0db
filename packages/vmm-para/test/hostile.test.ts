// Hostile hypercalls (issue proof 3): each gets Xen's error code, the domain's tables stay as they
// were, and no byte outside the domain changes (the canary digest).
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EFAULT, EINVAL, ENOSYS, EPERM, FIRST_XEN_L2_SLOT, HYPERVISOR_VIRT_START } from '../src/abi.js';
import { TYPE_L1, TYPE_L2 } from '../src/frames.js';
import { DirectDomain, outsideDigest, paintCanary } from './direct-domain.js';
import { assembleGuest, bootGuest, haveToolchain } from './pv-harness.js';

const toolchain = haveToolchain();
const IDLE = `
_start:
  jmp _start
`;

describe.skipIf(!toolchain)('hostile hypercalls', () => {
  let d: DirectDomain;
  let canary: string;
  const image = toolchain ? assembleGuest(IDLE) : new Uint8Array();

  beforeEach(() => {
    d = new DirectDomain(bootGuest(image));
    paintCanary(d.domain);
    canary = outsideDigest(d.domain);
  });

  afterEach(() => {
    expect(outsideDigest(d.domain)).toBe(canary);
  });

  const P_RW = 0x3;
  const P_RO = 0x1;

  it('mmu_update refuses foreign, hypervisor and out-of-range frames in an entry and as the target', () => {
    const va = d.scratch + 0x8000;
    const ptr = d.pteAddress(va);
    const before = d.pte(va);
    const hv = d.domain.hv;
    for (const frame of [5, hv.idt, hv.hvL1, hv.gdtReserved, d.domain.tables.frames.frames, 0xfffff]) {
      expect(d.mmuUpdate([[ptr, (frame * 4096) | P_RO]])).toBe(EINVAL);
      expect(d.pte(va)).toBe(before);
    }
    // The target itself: a hypervisor frame, a frame beyond RAM, an address above 4 GiB.
    expect(d.mmuUpdate([[hv.idt * 4096, 0]])).toBe(EINVAL);
    expect(d.mmuUpdate([[0xfffff000, 0]])).toBe(EINVAL);
    d.put32(d.scratch, d.pteAddress(va), 1, 0, 0);
    expect(d.call(1, d.scratch, 1, 0, 0x7ff0)).toBe(EINVAL);
    // Another domain's id as foreigndom.
    expect(d.mmuUpdate([[ptr, before]], 0, 0)).toBe(EINVAL);
    expect(d.domain.stats.counters?.get('validation refusals')).toBeGreaterThan(5);
  });

  it('mmu_update reports how many requests were done before the refused one', () => {
    const va = d.scratch + 0x8000;
    const good = (d.domain.p2m[300] * 4096) | P_RW;
    const doneAt = d.scratch + 0x3000;
    d.put32(doneAt, 77);
    expect(d.mmuUpdate([[d.pteAddress(va), good], [d.pteAddress(va + 4096), 0x7fff000 | P_RO]], doneAt)).toBe(EINVAL);
    expect(d.get32(doneAt)).toBe(1);
    expect(d.pte(va)).toBe(good >>> 0);
  });

  it('update_va_mapping refuses foreign frames, the hypervisor region and unmapped L2 slots', () => {
    const va = d.scratch + 0x8000;
    expect(d.call(14, va, (d.domain.hv.idt * 4096) | P_RO, 0, 2)).toBe(EINVAL);
    expect(d.call(14, va, 0x7fff000 | P_RO, 0, 2)).toBe(EINVAL);
    expect(d.call(14, HYPERVISOR_VIRT_START, (d.domain.p2m[300] * 4096) | P_RO, 0, 2)).toBe(EINVAL);
    expect(d.call(14, 0x10000000, (d.domain.p2m[300] * 4096) | P_RO, 0, 2)).toBe(EINVAL);
    expect(d.call(14, va, (d.domain.p2m[300] * 4096) | P_RW, 0, 2)).toBe(0);
  });

  it('never maps a page-table page writable; read-only is fine', () => {
    const va = d.scratch + 0x8000;
    for (const table of [d.l2, d.l1]) {
      expect(d.call(14, va, (table * 4096) | P_RW, 0, 2)).toBe(EINVAL);
      expect(d.mmuUpdate([[d.pteAddress(va), (table * 4096) | P_RW]])).toBe(EINVAL);
      expect(d.call(14, va, (table * 4096) | P_RO, 0, 2)).toBe(0);
    }
    // Nor can a writable page become a table while the writable mapping exists.
    const page = d.domain.p2m[400];
    expect(d.call(14, va, (page * 4096) | P_RW, 0, 2)).toBe(0);
    expect(d.mmuext([[0, page]])).toBe(EINVAL);
    expect(d.mmuext([[5, page]])).toBe(EINVAL);
    // An L2 entry pointing at it would make it an L1: refused too.
    expect(d.mmuUpdate([[d.l2 * 4096 + 0x100 * 4, (page * 4096) | 0x67]])).toBe(EINVAL);
  });

  it('keeps pinned and in-use tables typed: unpinning the live directory leaves it an L2', () => {
    const frames = d.domain.tables.frames;
    expect(d.mmuext([[4, d.l2]])).toBe(0);
    expect(frames.type[d.l2]).toBe(TYPE_L2);
    expect(frames.count[d.l2]).toBeGreaterThan(0);
    expect(d.call(14, d.scratch + 0x8000, (d.l2 * 4096) | P_RW, 0, 2)).toBe(EINVAL);
    expect(d.mmuext([[4, d.l2]])).toBe(EINVAL);
    expect(d.mmuext([[4, d.domain.p2m[500]]])).toBe(EINVAL);
    expect(d.mmuext([[4, d.domain.hv.idt]])).toBe(EINVAL);
    // Pinning twice, pinning a foreign frame, an unknown command.
    expect(d.mmuext([[0, d.l1]])).toBe(EINVAL);
    expect(d.mmuext([[1, d.domain.hv.hvL1]])).toBe(EINVAL);
    expect(d.mmuext([[99, 0]])).toBe(EINVAL);
    // A pinned L1 keeps its type: not a directory, not a base pointer, not pinned again as an L2;
    // nor does the directory become an L1 under itself (no linear page tables here).
    expect(d.mmuext([[1, d.l1]])).toBe(EINVAL);
    expect(d.mmuext([[5, d.l1]])).toBe(EINVAL);
    expect(d.mmuUpdate([[d.l2 * 4096 + 0x200 * 4, (d.l2 * 4096) | 0x63]])).toBe(EINVAL);
    expect(frames.type[d.l1]).toBe(TYPE_L1);
    expect(frames.type[d.l2]).toBe(TYPE_L2);
  });

  it('refuses the hypervisor L2 slots and large pages', () => {
    const slotPtr = d.l2 * 4096 + FIRST_XEN_L2_SLOT * 4;
    const before = d.memory.read32(slotPtr);
    expect(d.mmuUpdate([[slotPtr, 0]])).toBe(EINVAL);
    expect(d.memory.read32(slotPtr)).toBe(before);
    expect(d.mmuUpdate([[d.l2 * 4096 + 0x200 * 4, 0x00000083 | (d.domain.p2m[0] * 4096)]])).toBe(EINVAL);
  });

  it('validates descriptors: no DPL 0, nothing reaching the hypervisor, no gate to its code', () => {
    const page = d.domain.p2m[600];
    const pa = page * 4096;
    const flat4g = (dpl: number) => [0x0000ffff, 0x00cf9200 | (dpl << 13)];
    let [lo, hi] = flat4g(0);
    expect(d.call(10, pa, 0, lo, hi)).toBe(EINVAL);
    // A 4 KiB-granular 4 GiB segment of DPL 1 is accepted with its limit cut below the hypervisor.
    [lo, hi] = flat4g(1);
    expect(d.call(10, pa, 0, lo, hi)).toBe(0);
    const limit = (d.memory.read32(pa) & 0xffff) | (d.memory.read32(pa + 4) & 0xf0000);
    expect((limit + 1) * 4096).toBe(HYPERVISOR_VIRT_START);
    // A byte-granular segment spanning the region, a base inside it: refused.
    expect(d.call(10, pa, 0, 0x0000ffff, 0xfb01b2ff)).toBe(EINVAL);
    expect(d.call(10, pa, 0, 0x0000000f, 0xfd00b2ff)).toBe(EINVAL);
    // Call gates into the hypervisor's code selector, interrupt gates, TSS descriptors.
    expect(d.call(10, pa, 0, 0xe0080000, 0x0000ec00)).toBe(EINVAL);
    expect(d.call(10, pa, 0, 0xe0190000, 0x0000ee00)).toBe(EINVAL);
    expect(d.call(10, pa, 0, 0x00000067, 0x0000a900)).toBe(EINVAL);
    // Misaligned, foreign, a page-table page.
    expect(d.call(10, pa + 4, 0, ...flat4g(1))).toBe(EINVAL);
    expect(d.call(10, d.domain.hv.gdtReserved * 4096, 0, ...flat4g(1))).toBe(EINVAL);
    expect(d.call(10, d.l1 * 4096, 0, ...flat4g(1))).toBe(EINVAL);
  });

  it('set_gdt takes only validated frames of the domain', () => {
    const list = d.scratch + 0x2000;
    const page = d.domain.p2m[601];
    d.memory.write32(page * 4096 + 8, 0x0000ffff);
    d.memory.write32(page * 4096 + 12, 0x00cf9a00);
    d.put32(list, page);
    expect(d.call(2, list, 16)).toBe(EINVAL);
    d.put32(list, d.l1);
    expect(d.call(2, list, 16)).toBe(EINVAL);
    d.put32(list, d.domain.hv.gdtReserved);
    expect(d.call(2, list, 16)).toBe(EINVAL);
    expect(d.call(2, list, 8192)).toBe(EINVAL);
    d.memory.write32(page * 4096 + 12, 0x00cfba00);
    d.put32(list, page);
    expect(d.call(2, list, 16)).toBe(0);
    // Now a GDT page: never writable, and its descriptors still checked.
    expect(d.call(14, d.scratch + 0x8000, (page * 4096) | P_RW, 0, 2)).toBe(EINVAL);
    expect(d.call(10, page * 4096 + 16, 0, 0x0000ffff, 0x00cf9200)).toBe(EINVAL);
    expect(d.call(10, page * 4096 + 16, 0, 0x0000ffff, 0x00cfb200)).toBe(0);
  });

  it('answers bad guest pointers with -EFAULT in every call that takes one', () => {
    const bad = [HYPERVISOR_VIRT_START, 0x1000, 0xfffffff0];
    for (const p of bad) {
      expect(d.call(0, p)).toBe(EFAULT);
      expect(d.call(1, p, 1, 0, 0x7ff0)).toBe(EFAULT);
      expect(d.call(2, p, 16)).toBe(EFAULT);
      expect(d.call(12, 9, p)).toBe(EFAULT);
      expect(d.call(13, p, 1)).toBe(EFAULT);
      expect(d.call(17, 1, p)).toBe(EFAULT);
      expect(d.call(18, 0, 16, p)).toBe(EFAULT);
      expect(d.call(20, 2, p, 1)).toBe(EFAULT);
      expect(d.call(24, 8, 0, p)).toBe(EFAULT);
      expect(d.call(26, p, 1, 0, 0x7ff0)).toBe(EFAULT);
      expect(d.call(29, 2, p)).toBe(EFAULT);
      for (const cmd of [0, 1, 3, 4, 6, 9]) expect(d.call(32, cmd, p)).toBe(EFAULT);
    }
    // Output into a read-only page (the page tables): -EFAULT, nothing written.
    const ptVa = d.startInfo32(60);
    expect(d.call(17, 1, ptVa)).toBe(EFAULT);
    expect(d.call(32, 1, ptVa)).toBe(EFAULT);
    expect(d.domain.stop).toBe(null);
  });

  it('answers huge counts without running away', () => {
    expect(d.call(1, d.scratch, 0x7fffffff, 0, 0x7ff0)).toBe(EFAULT);
    expect(d.call(26, d.scratch, 0x7fffffff, 0, 0x7ff0)).toBe(EFAULT);
    expect(d.call(13, d.scratch, 0xffffffff)).toBe(EFAULT);
    expect(d.call(18, 0, 0xffffffff, d.scratch)).toBe(EFAULT);
    // A long console write continues itself every 128 KiB, as Xen preempts console_io.
    expect(d.guest.hypercall(18, [0, 0x40000, d.scratch, 0, 0, 0])).toEqual({ continueWith: [0, 0x20000, d.scratch + 0x20000] });
    expect(d.call(20, 2, d.scratch, 0xffffffff)).toBe(EINVAL);
    expect(d.call(2, d.scratch, 0xffffffff)).toBe(EINVAL);
  });

  it('refuses recursive multicalls and runs the rest of the batch', () => {
    const list = d.scratch;
    // [multicall(list, 1)], then xen_version(0).
    d.put32(list, 13, 0, list, 1, 0, 0, 0, 0);
    d.put32(list + 32, 17, 0, 0, 0, 0, 0, 0, 0);
    expect(d.call(13, list, 2)).toBe(0);
    expect(d.get32(list + 4) | 0).toBe(EINVAL);
    expect(d.get32(list + 36)).toBe(0x30000);
    expect(d.domain.stats.counters?.get('multicall batches')).toBe(1);
    // A long batch continues itself after 1024 entries.
    for (let i = 0; i < 1500; i++) d.put32(list + i * 32, 17, 0, 0, 0, 0, 0, 0, 0);
    expect(d.guest.hypercall(13, [list, 1500, 0, 0, 0, 0])).toEqual({ continueWith: [list + 1024 * 32, 1500 - 1024] });
    expect(d.get32(list + 1023 * 32 + 4)).toBe(0x30000);
  });

  it('continues a long call inside a multicall from that entry, with its arguments rewritten', () => {
    const list = d.scratch;
    const reqs = d.scratch + 0x1000;
    const count = 1100;
    for (let i = 0; i < count; i++) d.put32(reqs + i * 16, d.pteAddress(d.scratch + 0x8000), 0, (d.domain.p2m[800] * 4096) | 3, 0);
    d.put32(list, 17, 0, 0, 0, 0, 0, 0, 0);
    d.put32(list + 32, 1, 0, reqs, count, 0, 0x7ff0, 0, 0);
    const result = d.guest.hypercall(13, [list, 2, 0, 0, 0, 0]);
    expect(result).toEqual({ continueWith: [list + 32, 1] });
    expect(d.get32(list + 4)).toBe(0x30000);
    expect([d.get32(list + 40), d.get32(list + 44)]).toEqual([reqs + 1024 * 16, ((count - 1024) | 0x80000000) >>> 0]);
    expect(d.guest.hypercall(13, [list + 32, 1, 0, 0, 0, 0])).toBe(0);
    expect(d.get32(list + 36)).toBe(0);
  });

  it('keeps pages the back ends write from ever becoming page tables', () => {
    // The console page, even once the guest drops its own writable mapping of it.
    const consoleVa = d.startInfo + 0x2000;
    expect(d.pte(consoleVa) >>> 12).toBe(d.consoleMfn);
    expect(d.call(14, consoleVa, 0, 0, 1)).toBe(0);
    expect(d.mmuext([[0, d.consoleMfn]])).toBe(EINVAL);
    // A grant for writing: refused for a page table, and a granted page cannot be pinned while mapped.
    const op = d.scratch;
    d.put32(op, 0x7ff0, 1, 0, d.scratch + 0x100);
    expect(d.call(20, 2, op, 1)).toBe(0);
    const table = d.get32(d.scratch + 0x100) * 4096;
    d.memory.write32(table + 8, 1);
    d.memory.write32(table + 12, d.l1);
    expect(d.guest.grants.map(1, true)).toBe(-1);
    const page = d.domain.p2m[900];
    d.memory.write32(table + 12, page);
    const mapping = d.guest.grants.map(1, true);
    expect(typeof mapping).toBe('object');
    expect(d.mmuext([[0, page]])).toBe(EINVAL);
    if (typeof mapping === 'object') d.guest.grants.unmap(mapping);
    expect(d.mmuext([[0, page]])).toBe(0);
  });

  it('answers unknown calls with -ENOSYS and a ring-0 kernel stack with -EPERM', () => {
    for (const nr of [6, 7, 8, 9, 11, 16, 19, 22, 25, 27, 28, 30, 31, 33, 34, 40, 0xffffffff]) expect(d.call(nr)).toBe(ENOSYS);
    expect(d.call(3, 0xe010, 0x1000)).toBe(EPERM);
    expect(d.call(3, 0x0018, 0x1000)).toBe(EPERM);
  });

  it('answers reservation queries about another domain with -EPERM, as to any unprivileged domain', () => {
    const pages = d.domain.p2m.length;
    for (const dom of [0x7ff0, 1]) {
      d.put32(d.scratch, dom);
      expect(d.call(12, 3, d.scratch)).toBe(pages);
      expect(d.call(12, 4, d.scratch)).toBe(pages);
    }
    for (const dom of [0, 2, 0x7fef, 0x7ff1]) {
      d.put32(d.scratch, dom);
      expect(d.call(12, 3, d.scratch)).toBe(EPERM);
      expect(d.call(12, 4, d.scratch)).toBe(EPERM);
    }
  });

  it('refuses bogus grant references and grant operations', () => {
    const op = d.scratch;
    d.put32(op, 0x7ff0, 100, 0, d.scratch + 0x100);
    expect(d.call(20, 2, op, 1)).toBe(0);
    expect(d.memory.read16(d.domain.access.translate(op + 8, false)) << 16 >> 16).toBe(-1);
    // map/unmap from the guest: nobody grants it anything.
    d.put32(op, 0, 0, 0, 12345, 0, 0, 0, 0);
    expect(d.call(20, 0, op, 1)).toBe(0);
    expect(d.get32(op + 16) >> 16).toBe(-3);
    d.put32(op, 0, 0, 0, 0, 99, 0);
    expect(d.call(20, 1, op, 1)).toBe(0);
    expect(d.get32(op + 20) << 16 >> 16).toBe(-4);
    // The back end refuses refs beyond the table, not granted to it, or read-only for a write.
    expect(d.guest.grants.map(5, true)).toBe(-3);
    d.put32(op, 0x7ff0, 1, 0, d.scratch + 0x100);
    expect(d.call(20, 2, op, 1)).toBe(0);
    const table = d.get32(d.scratch + 0x100) * 4096;
    expect(d.guest.grants.map(600, false)).toBe(-3);
    d.memory.write32(table + 8, 1 | (7 << 16));
    expect(d.guest.grants.map(1, false)).toBe(-8);
    d.memory.write32(table + 8, 1 | 4);
    d.memory.write32(table + 12, d.domain.p2m[10]);
    expect(d.guest.grants.map(1, true)).toBe(-8);
    d.memory.write32(table + 8, 1);
    d.memory.write32(table + 12, d.domain.hv.idt);
    expect(d.guest.grants.map(1, false)).toBe(-1);
  });

  it('treats ring indices beyond the ring as a broken ring, never reading past it', () => {
    const consolePage = d.consoleMfn * 4096;
    d.memory.write32(consolePage + 3084, 100000);
    const consolePort = d.startInfo32(56);
    d.put32(d.scratch, consolePort);
    expect(d.call(32, 4, d.scratch)).toBe(0);
    expect(d.booted.output()).toBe('');
    const storePage = d.storeMfn * 4096;
    d.memory.write32(storePage + 2052, 5000);
    d.put32(d.scratch, d.startInfo32(48));
    expect(d.call(32, 4, d.scratch)).toBe(0);
    expect(d.domain.stats.counters?.get('validation refusals')).toBe(2);
  });

  it('bounds a flooded console ring and the input it queues', () => {
    const page = d.consoleMfn * 4096;
    d.booted.consoleRoom = 100;
    d.put32(d.scratch, d.startInfo32(56));
    let prod = 0;
    for (let round = 0; round < 50; round++) {
      const cons = d.memory.read32(page + 3080);
      while (prod - cons < 2048) d.memory.write8(page + 1024 + (prod++ % 2048), 0x41);
      d.memory.write32(page + 3084, prod);
      expect(d.call(32, 4, d.scratch)).toBe(0);
    }
    expect(d.booted.output().length).toBe(50 * 100);
    // 64 KiB queued, of which the ring takes its 1 KiB at once; then the queue is full.
    expect(d.guest.consoleInput(new Uint8Array(200_000))).toBe(64 * 1024);
    expect(d.guest.consoleInput(new Uint8Array(2000))).toBe(1024);
    expect(d.guest.consoleInput(new Uint8Array(10))).toBe(0);
  });
});
