// The 64-bit PV builder: ELF64 and Xen notes read as Xen's libelf reads them, hostile images refused
// in one line, and the start-of-day layout (start_info, p2m, M2P, boot tables) checked on a small
// synthetic kernel built here byte by byte.
import { describe, expect, it } from 'vitest';
import { paraStrategy } from '../src/index.js';
import { bzImagePayload } from '../src/pv64/bzimage.js';
import type { PvGuest64 } from '../src/pv64/guest.js';
import { parseFeatures, parseXenElf64 } from '../src/pv64/xen-elf64.js';
import { mayRun, resume } from '../src/sched-state.js';
import { TYPE_L1, TYPE_L4 } from '../src/frames.js';
import { TestClock, TestStats } from './pv-harness.js';

const VIRT_BASE = 0xffffffff80000000n;

interface Note { type: number; desc: Uint8Array }
interface Segment { paddr: bigint; data: Uint8Array; memSize?: bigint }

const u64 = (v: bigint) => {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, BigInt.asUintN(64, v), true);
  return b;
};
const str = (s: string) => new TextEncoder().encode(`${s}\0`);

const STANDARD_NOTES = (entry: bigint): Note[] => [
  { type: 6, desc: str('linux') }, { type: 5, desc: str('xen-3.0') }, { type: 3, desc: u64(VIRT_BASE) },
  { type: 1, desc: u64(entry) }, { type: 10, desc: str('!writable_page_tables|pae_pgdir_above_4gb') },
  { type: 8, desc: str('generic') }, { type: 12, desc: u64(0xffff800000000000n) },
];

/** An ELF64 x86-64 executable: one PT_NOTE with `notes`, one PT_LOAD per segment (vaddr = paddr + VIRT_BASE). */
function elf64(segments: Segment[], notes: Note[], entry = VIRT_BASE + 0x1000000n): Uint8Array {
  const align4 = (n: number) => (n + 3) & ~3;
  const noteBytes = notes.reduce((n, note) => n + 12 + 4 + align4(note.desc.length), 0);
  const phnum = 1 + segments.length;
  let offset = 64 + phnum * 56;
  const noteAt = offset;
  offset += noteBytes;
  const dataAt = segments.map((s) => {
    const at = offset;
    offset += s.data.length;
    return at;
  });
  const out = new Uint8Array(offset);
  const v = new DataView(out.buffer);
  out.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]);
  v.setUint16(16, 2, true);
  v.setUint16(18, 62, true);
  v.setBigUint64(24, entry, true);
  v.setBigUint64(32, 64n, true);
  v.setUint16(54, 56, true);
  v.setUint16(56, phnum, true);
  v.setUint32(64, 4, true);
  v.setBigUint64(64 + 8, BigInt(noteAt), true);
  v.setBigUint64(64 + 32, BigInt(noteBytes), true);
  let at = noteAt;
  for (const note of notes) {
    v.setUint32(at, 4, true);
    v.setUint32(at + 4, note.desc.length, true);
    v.setUint32(at + 8, note.type, true);
    out.set(str('Xen'), at + 12);
    out.set(note.desc, at + 16);
    at += 16 + align4(note.desc.length);
  }
  segments.forEach((s, i) => {
    const ph = 64 + (i + 1) * 56;
    v.setUint32(ph, 1, true);
    v.setBigUint64(ph + 8, BigInt(dataAt[i]), true);
    v.setBigUint64(ph + 16, BigInt.asUintN(64, s.paddr + VIRT_BASE), true);
    v.setBigUint64(ph + 24, s.paddr, true);
    v.setBigUint64(ph + 32, BigInt(s.data.length), true);
    v.setBigUint64(ph + 40, s.memSize ?? BigInt(s.data.length), true);
    out.set(s.data, dataAt[i]);
  });
  return out;
}

const kernelBytes = () => Uint8Array.from({ length: 0x3000 }, (_, i) => (i * 7) & 0xff);
const goodImage = (extra: Note[] = []) =>
  elf64([{ paddr: 0x1000000n, data: kernelBytes(), memSize: 0x5000n }], [...STANDARD_NOTES(VIRT_BASE + 0x1000000n), ...extra]);

describe('64-bit Xen ELF images', () => {
  it('reads the notes and places segments by p_paddr', () => {
    const elf = parseXenElf64(goodImage([{ type: 15, desc: u64(0x8000000000n) }]));
    expect(elf.virtBase).toBe(Number(BigInt.asIntN(64, VIRT_BASE)));
    expect(elf.kernelStart).toBe(elf.virtBase + 0x1000000);
    expect(elf.kernelEnd).toBe(elf.kernelStart + 0x5000);
    expect(elf.entry).toBe(elf.kernelStart);
    expect(elf.p2mBase).toBe(0x8000000000);
    expect(elf.featuresRequired).toBe(1);
    expect(elf.segments[0].memSize).toBe(0x5000);
  });

  it('parses FEATURES as libelf does: "!" marks a required feature, unknown names are refused', () => {
    expect(parseFeatures('!writable_page_tables|pae_pgdir_above_4gb')).toEqual({ supported: 0x11, required: 0x1 });
    expect(() => parseFeatures('flying_pigs')).toThrow(/unknown feature 'flying_pigs'/);
  });

  it('refuses hostile images in one line, never with a host exception', () => {
    const refuse = (image: Uint8Array, message: RegExp) => expect(() => parseXenElf64(image)).toThrow(message);
    refuse(new Uint8Array(10), /truncated ELF/);
    refuse(goodImage().subarray(0, 200), /truncated ELF/);
    const elf32 = goodImage();
    elf32[4] = 1;
    refuse(elf32, /ELF64/);
    const i386 = goodImage();
    new DataView(i386.buffer).setUint16(18, 3, true);
    refuse(i386, /not an x86-64/);
    refuse(goodImage([{ type: 10, desc: str('!auto_translated_physmap') }]), /requires features this hypervisor lacks: auto_translated_physmap/);
    refuse(elf64([{ paddr: 0x1000000n, data: kernelBytes() }], STANDARD_NOTES(VIRT_BASE + 0x9000000n)), /entry out of bounds/);
    refuse(elf64([{ paddr: 0x1000000n, data: kernelBytes() }], STANDARD_NOTES(0x0000800000000000n)), /ENTRY 0x800000000000 is not a canonical address/);
    refuse(
      elf64([{ paddr: 0x1000000n, data: kernelBytes() }, { paddr: 0x1001000n, data: kernelBytes() }], STANDARD_NOTES(VIRT_BASE + 0x1000000n)),
      /overlap/,
    );
    refuse(elf64([{ paddr: 0x1000000n, data: kernelBytes(), memSize: 1n << 40n }], STANDARD_NOTES(VIRT_BASE + 0x1000000n)), /span/);
    refuse(elf64([{ paddr: 0x1000000n, data: kernelBytes(), memSize: 16n }], STANDARD_NOTES(VIRT_BASE + 0x1000000n)), /more file bytes/);
    const wrongVersion = elf64([{ paddr: 0x1000000n, data: kernelBytes() }], STANDARD_NOTES(VIRT_BASE + 0x1000000n).map((n) => (n.type === 5 ? { type: 5, desc: str('xen-2.0') } : n)));
    refuse(wrongVersion, /Xen 3.0/);
    const runaway = goodImage();
    const noteAt = 64 + 2 * 56;
    new DataView(runaway.buffer).setUint32(noteAt + 4, 0x7fffffff, true);
    refuse(runaway, /note runs past/);
    refuse(goodImage([{ type: 2, desc: u64(VIRT_BASE + 0x9000000n) }]), /HYPERCALL_PAGE .* is not a page of the kernel/);
  });

  it('refuses a bzImage whose payload lies outside the file', () => {
    const image = new Uint8Array(0x1000);
    image.set([0x48, 0x64, 0x72, 0x53], 0x202);
    const v = new DataView(image.buffer);
    v.setUint16(0x206, 0x20f, true);
    image[0x1f1] = 1;
    v.setUint32(0x248, 0x100, true);
    v.setUint32(0x24c, 0x10000, true);
    expect(() => bzImagePayload(image)).toThrow(/payload lies outside the file/);
    v.setUint32(0x24c, 0x20, true);
    expect(() => bzImagePayload(image)).toThrow(/neither xz nor gzip/);
  });
});

describe('the 64-bit start-of-day layout', () => {
  function build(image: Uint8Array, initrd?: Uint8Array) {
    const clock = new TestClock();
    const bus = { read: () => 0xffffffff, write: () => undefined } as never;
    const vm = paraStrategy.createVm({
      regions: [{ base: 0, size: 64 << 20 }], io: bus, mmio: bus,
      interrupts: { pending: () => false, acknowledge: () => 0 }, stats: new TestStats(), clock,
    });
    return vm.buildPvDomain!({ image, clock, cmdline: 'console=hvc0', initrd, console: { write: (b) => b.length } }) as PvGuest64;
  }

  it('lays out start_info, the p2m list, the boot tables and the M2P as Xen does', () => {
    const guest = build(goodImage(), Uint8Array.from([1, 2, 3, 4, 5]));
    const d = guest.domain;
    const read64 = (va: number) => d.access.read64(va);
    const si = guest.built.startInfo;
    const magic = new Uint8Array(14);
    d.access.readBytes(si, magic);
    expect(new TextDecoder().decode(magic)).toBe('xen-3.0-x86_64');
    const nrPages = read64(si + 32);
    expect(nrPages).toBe(d.p2m.length);
    expect(read64(si + 40)).toBe(d.sharedInfoBase);
    // The kernel's bytes at VIRT_BASE + 16 MiB; zeros past the file bytes.
    const kernel = d.access.read32(guest.built.entry);
    expect(kernel).toBe(new DataView(kernelBytes().buffer).getUint32(0, true));
    expect(d.access.read32(guest.built.entry + 0x4000)).toBe(0);
    // The initrd right after the kernel, the module fields, the p2m list after it.
    const modStart = read64(si + 112);
    expect(modStart).toBe(guest.built.entry + 0x5000);
    expect(read64(si + 120)).toBe(5);
    expect(d.access.read8(modStart + 4)).toBe(5);
    const mfnList = read64(si + 104);
    expect(mfnList).toBe(modStart + 0x1000);
    for (const pfn of [0, 1, nrPages - 1]) expect(read64(mfnList + pfn * 8)).toBe(d.p2m[pfn]);
    // The M2P, read-only for the guest at the address XENMEM_machphys_mapping reports.
    // (the hypervisor's own accessor refuses that hole for hypercall pointers: walk the L4 as the CPU does)
    const cpuRead = (va: number) => {
      let table = d.cpu.cr3 / 4096;
      let flags = 0x7;
      for (let level = 3; level >= 0; level--) {
        const index = Math.floor((va + 2 ** 48) / 2 ** (12 + 9 * level)) % 512;
        const lo = d.tables.lo(table, index);
        flags &= lo;
        table = lo >>> 12;
      }
      return { flags, value: d.memory.read32(table * 4096 + (va % 4096 + 4096) % 4096) };
    };
    const m2p = -(2 ** 47);
    for (const pfn of [0, 7, nrPages - 1]) expect(cpuRead(m2p + d.p2m[pfn] * 8)).toEqual({ flags: 0x5, value: pfn });
    // Boot tables: pt_base is the validated, pinned L4 in CR3, its L1s typed, all mapped read-only.
    const ptBase = read64(si + 88);
    const ptFrames = read64(si + 96);
    const l4 = d.p2m[(ptBase - Number(BigInt.asIntN(64, VIRT_BASE))) / 4096];
    expect(d.cpu.cr3).toBe(l4 * 4096);
    expect(d.tables.frames.type[l4]).toBe(TYPE_L4);
    expect(d.tables.frames.pinned[l4]).toBe(1);
    expect(() => d.access.write8(ptBase, 0)).toThrow();
    expect(() => d.access.write8(ptBase + (ptFrames - 1) * 4096, 0)).toThrow();
    expect(d.tables.frames.type[d.p2m[(ptBase + (ptFrames - 1) * 4096 - Number(BigInt.asIntN(64, VIRT_BASE))) / 4096]]).toBe(TYPE_L1);
    // The stack above the tables, with 512 KiB mapped past it to a 4 MiB boundary.
    const stackTop = guest.built.stackTop;
    expect(stackTop).toBe(ptBase + ptFrames * 4096 + 4096);
    d.access.write8(stackTop + 512 * 1024 - 1, 1);
    expect((guest.built.layout.mapEnd - Number(BigInt.asIntN(64, VIRT_BASE))) % (4 << 20)).toBe(0);
    // ...and no further, as libxc counts it (Linux frees up to the boot tables' 4 MiB boundary; a
    // range mapped past it would stay writable and executable).
    expect(guest.built.layout.mapEnd).toBe(Math.ceil((stackTop + 512 * 1024) / (4 << 20)) * (4 << 20));
    // The vCPU: RSI = start_info, RSP at the stack top, 64-bit code at CPL 3, events masked.
    expect(d.reg(6)).toBe(si);
    expect(d.reg(4)).toBe(stackTop);
    expect(d.cpu.mode64).toBe(true);
    expect(d.cpu.cpl).toBe(3);
    expect(d.upcallMask).toBe(1);
    // The command line.
    const cmd = new Uint8Array(12);
    d.access.readBytes(si + 128, cmd);
    expect(new TextDecoder().decode(cmd)).toBe('console=hvc0');
  });

  it('maps the p2m list at INIT_P2M when the kernel asks, and says where its frames are', () => {
    const guest = build(goodImage([{ type: 15, desc: u64(0x8000000000n) }]));
    const d = guest.domain;
    const si = guest.built.startInfo;
    expect(d.access.read64(si + 104)).toBe(0x8000000000);
    const first = d.access.read64(si + 1152);
    const frames = d.access.read64(si + 1160);
    expect(frames).toBe(Math.ceil((d.p2m.length * 8) / 4096));
    expect(d.access.read64(0x8000000000 + 8 * 3)).toBe(d.p2m[3]);
    // The same frames through the kernel mapping, at their pfns.
    expect(d.access.read64(Number(BigInt.asIntN(64, VIRT_BASE)) + first * 4096 + 8 * 3)).toBe(d.p2m[3]);
  });

  it('refuses a kernel bigger than the domain, in one line', () => {
    const huge = elf64([{ paddr: 0x1000000n, data: kernelBytes(), memSize: 0x8000000n }], STANDARD_NOTES(VIRT_BASE + 0x1000000n));
    expect(() => build(huge)).toThrow(/the kernel needs .* KiB from VIRT_BASE; the domain has/);
  });

  it('fills a hypercall page with syscall stubs when the kernel names one', () => {
    const guest = build(goodImage([{ type: 2, desc: u64(VIRT_BASE + 0x1002000n) }]));
    const page = new Uint8Array(64);
    guest.domain.access.readBytes(guest.built.entry + 0x2000 + 17 * 32, page);
    // push %rcx; push %r11; mov $17,%eax; syscall; pop %r11; pop %rcx; ret
    expect([...page.subarray(0, 14)]).toEqual([0x51, 0x41, 0x53, 0xb8, 17, 0, 0, 0, 0x0f, 0x05, 0x41, 0x5b, 0x59, 0xc3]);
  });
});

/**
 * set_gdt with one frame of 16 entries beyond the start-of-day mapping (pfn 16000), holding
 * `entries` (index → [low, high] dwords); the frame list goes at `scratch`.
 */
function loadGuestGdt(guest: PvGuest64, scratch: number, entries: Record<number, [number, number]>): void {
  const d = guest.domain;
  const gdt = d.p2m[16000] * 4096;
  for (const [index, [lo, hi]] of Object.entries(entries)) {
    d.memory.write32(gdt + Number(index) * 8, lo);
    d.memory.write32(gdt + Number(index) * 8 + 4, hi);
  }
  d.access.write64(scratch, d.p2m[16000]);
  expect(guest.hypercall(2, [scratch, 16])).toBe(0);
}

describe('64-bit hypercalls with hostile arguments', () => {
  function domain(vcpus = 1) {
    const clock = new TestClock();
    const stats = new TestStats();
    const bus = { read: () => 0xffffffff, write: () => undefined } as never;
    const vm = paraStrategy.createVm({
      regions: [{ base: 0, size: 64 << 20 }], io: bus, mmio: bus,
      interrupts: { pending: () => false, acknowledge: () => 0 }, stats, clock,
    });
    const guest = vm.buildPvDomain!({ image: goodImage(), clock, vcpus, console: { write: (b) => b.length } }) as PvGuest64;
    return { guest, d: guest.domain, scratch: guest.built.stackTop + 0x1000, stats, vm };
  }
  const EFAULT = -14;
  const EINVAL = -22;
  const ENOENT = -2;
  const DOMID_SELF = 0x7ff0;

  it('keeps a runstate area in the x86-64 layout, answers get_runstate_info, and refuses handles in the hole', () => {
    const { guest, d, scratch } = domain(2);
    const area = scratch + 0x100;
    const u64 = (at: number) => d.access.read32(at) + d.access.read32(at + 4) * 2 ** 32;
    d.access.write64(scratch, area);
    expect(guest.hypercall(24, [5, 0, scratch])).toBe(0);
    // state @0, state_entry_time @8, time[4] @16: never run, offline since 0.
    expect(d.access.read32(area)).toBe(3);
    expect([8, 16, 24, 32, 40].map((o) => u64(area + o))).toEqual([0, 0, 0, 0, 0]);
    // 2 µs later vCPU 1 (never up) has been offline all that time.
    guest.cpu.tscOffset += 200;
    expect(guest.hypercall(24, [4, 1, area + 64])).toBe(0);
    expect(d.access.read32(area + 64)).toBe(3);
    expect(u64(area + 64 + 40)).toBe(2000);
    expect(guest.hypercall(24, [4, 2, area + 64])).toBe(ENOENT);
    // The hypervisor's hole, a non-canonical address: -EFAULT for both calls.
    for (const bad of [-(2 ** 47), -(2 ** 47) + 0x1000, 2 ** 47]) {
      d.access.write64(scratch, bad);
      expect(guest.hypercall(24, [5, 0, scratch])).toBe(EFAULT);
      expect(guest.hypercall(24, [4, 0, bad])).toBe(EFAULT);
    }
    // vm_assist: runstate_update_flag on and off; writable_pagetables is on for good.
    expect(guest.hypercall(21, [0, 5])).toBe(0);
    expect(d.shared.runstateUpdateFlag).toBe(true);
    expect(guest.hypercall(21, [1, 5])).toBe(0);
    expect(guest.hypercall(21, [0, 2])).toBe(0);
    expect(guest.hypercall(21, [1, 2])).toBe(EINVAL);
    expect(guest.hypercall(21, [2, 5])).toBe(-38);
  });

  it('answers bad pointers with -EFAULT: the hypervisor hole, non-canonical, unmapped, read-only', () => {
    const { guest, d } = domain();
    const ro = d.access.read64(guest.built.startInfo + 88); // pt_base: mapped read-only
    for (const pointer of [-(2 ** 47), -(2 ** 47) + 0x1000, 2 ** 47, 0x1000, ro]) {
      expect(guest.hypercall(12, [12, pointer]), `machphys_mapping to ${pointer}`).toBe(EFAULT);
      expect(guest.hypercall(1, [pointer, 1, 0, DOMID_SELF]), `mmu_update from ${pointer}`).toBe(pointer === ro ? EINVAL : EFAULT);
    }
    expect(guest.hypercall(18, [0, 16, -(2 ** 47)])).toBe(EFAULT);
    // console_io's count is an unsigned int (the upper half is dropped, as C does); a read past the mapping faults.
    expect(guest.hypercall(18, [0, 2 ** 40, guest.built.entry])).toBe(0);
    expect(guest.hypercall(18, [0, 4096, guest.built.layout.mapEnd - 16])).toBe(EFAULT);
  });

  it('refuses foreign and hypervisor frames, writable page tables, pins of plain pages and the hypervisor L4 slots', () => {
    const { guest, d, scratch } = domain();
    const frames = d.tables.frames;
    const l4 = d.kernelBase;
    const put = (at: number, lo: number, hi: number) => {
      d.access.write32(at, lo);
      d.access.write32(at + 4, hi);
    };
    const update = (ptr: number, lo: number, hi = 0) => {
      put(scratch, ptr, 0);
      put(scratch + 8, lo, hi);
      return guest.hypercall(1, [scratch, 1, 0, DOMID_SELF]);
    };
    // An L1 entry of the boot tables (the one mapping the scratch page's neighbour).
    const l1 = d.p2m[(d.access.read64(guest.built.startInfo + 88) + (d.access.read64(guest.built.startInfo + 96) - 1) * 4096 - Number(BigInt.asIntN(64, VIRT_BASE))) / 4096];
    expect(frames.type[l1]).toBe(TYPE_L1);
    const ptr = l1 * 4096 + 8 * 400;
    expect(update(ptr, d.hv.sharedInfo * 4096 + 3)).toBe(0); // shared_info may be mapped
    expect(update(ptr, d.hv.m2p[0] * 4096 + 1)).toBe(EINVAL); // the hypervisor's M2P frame: not the domain's
    expect(update(ptr, (frames.frames + 5) * 4096 + 1)).toBe(EINVAL); // beyond RAM
    expect(update(ptr, l4 * 4096 + 3)).toBe(EINVAL); // the L4, writable
    expect(update(ptr, l4 * 4096 + 1)).toBe(0); // ... read-only is fine
    expect(update(ptr, d.p2m[300] * 4096 + 0x83)).toBe(EINVAL); // PAT bit in an L1
    expect(update(ptr, d.p2m[300] * 4096 + 3, 0x7ff00000)).toBe(EINVAL); // bits 62:52
    expect(update(ptr, d.p2m[300] * 4096 + 3, 0x80000000)).toBe(0); // NX is the guest's
    expect(update(l4 * 4096 + 8 * 256, d.p2m[300] * 4096 + 7)).toBe(EINVAL); // the M2P's L4 slot
    expect(update(l4 * 4096 + 8 * 10, d.p2m[300] * 4096 + 7)).toBe(EINVAL); // a plain page as an L3
    expect(guest.hypercall(1, [scratch, 1, 0, 0])).toBe(EINVAL); // a foreign domain
    // mmuext_op: pin a page that is not a valid table, new_baseptr of a plain page, unpin what is not pinned.
    const op = (cmd: number, mfn: number) => {
      put(scratch, cmd, 0);
      put(scratch + 8, mfn, 0);
      return guest.hypercall(26, [scratch, 1, 0, DOMID_SELF]);
    };
    const junk = d.p2m[d.p2m.length - 10];
    d.memory.write32(junk * 4096, d.hv.m2p[0] * 4096 + 1);
    expect(op(0, junk)).toBe(EINVAL); // PIN_L1 of a page mapping a hypervisor frame
    expect(op(5, d.p2m[301])).toBe(EINVAL); // NEW_BASEPTR of a zero page: validates, so it is an empty L4...
    expect(op(4, d.p2m[302])).toBe(EINVAL); // UNPIN of an unpinned page
    expect(op(3, l4)).toBe(EINVAL); // PIN_L4 twice
    expect(op(99, l4)).toBe(EINVAL);
    // update_va_mapping into the hole or through no L1.
    expect(guest.hypercall(14, [-(2 ** 47), 0, 0])).toBe(EINVAL);
    expect(guest.hypercall(14, [0x10000000, 0, 0])).toBe(EINVAL);
    // Nothing outside the domain was touched: the M2P still maps every domain frame to its pfn.
    expect(d.memory.read32(d.hv.m2p[0] * 4096 + d.p2m[5] * 8)).toBe(5);
  });

  /** A started domain with VIRQ_TIMER bound: EVTCHNOP_bind_virq {u32 virq; u32 vcpu; u32 port (out)}. */
  function timerDomain() {
    const parts = domain();
    const { guest, d, scratch } = parts;
    guest.start();
    d.access.write32(scratch, 0);
    d.access.write32(scratch + 4, 0);
    expect(guest.hypercall(32, [1, scratch])).toBe(0);
    return { ...parts, clock: guest.time.clock as TestClock, port: d.access.read32(scratch + 8) };
  }

  it('delivers VIRQ_TIMER when the one-shot timer asked for falls due, and SCHEDOP_block returns at once for it', () => {
    const { guest, d, scratch, clock, port } = timerDomain();
    const pending = () => (d.memory.read8(d.sharedInfoBase + 2048 + (port >>> 3)) >>> (port & 7)) & 1;
    const singleshot = (deadline: number, flags: number, vcpu = 0) => {
      d.access.write64(scratch + 16, deadline);
      d.access.write32(scratch + 24, flags);
      return guest.hypercall(24, [8, vcpu, scratch + 16]);
    };
    // 5 ms into the domain's life (its TSC ticks 10 ns).
    guest.cpu.tscOffset += 500_000;
    clock.ns = 5_000_000;
    const now = guest.time.now();
    expect(now).toBe(5_000_000);
    // VCPU_SSHOTTMR_future with a deadline already past: -ETIME, nothing armed.
    expect(singleshot(now - 1, 1)).toBe(-62);
    expect(clock.nextDeadline()).toBe(Infinity);
    expect(singleshot(now + 1_000_000, 0, 1)).toBe(-2); // no vCPU 1
    expect(guest.hypercall(24, [8, 0, -(2 ** 47)])).toBe(EFAULT);
    expect(singleshot(now + 4_000_000, 1)).toBe(0);
    expect(clock.nextDeadline()).toBe(now + 4_000_000);
    // Re-arming replaces the deadline (one timer per vCPU), stopping it leaves none.
    expect(singleshot(now + 2_000_000, 0)).toBe(0);
    expect(clock.nextDeadline()).toBe(now + 2_000_000);
    expect(guest.hypercall(24, [9, 0, 0])).toBe(0);
    expect(clock.nextDeadline()).toBe(Infinity);
    expect(singleshot(now + 2_000_000, 0)).toBe(0);
    clock.ns = now + 1_999_999;
    clock.fireDue();
    expect(pending()).toBe(0);
    clock.ns = now + 2_000_000;
    clock.fireDue();
    expect(pending()).toBe(1);
    expect(d.eventPending()).toBe(true);
    expect(clock.nextDeadline()).toBe(Infinity);
    // SCHEDOP_block with the event pending: unmasks delivery and returns without blocking.
    expect(guest.hypercall(29, [1, 0])).toBe(0);
    expect(d.upcallMask).toBe(0);
    expect(d.stop).toBe(null);
  });

  it('reads SCHEDOP_poll\'s x86-64 structure (8-byte handle, timeout at 16) and blocks until its port or timeout', () => {
    const { guest, d, scratch, clock, port } = timerDomain();
    const list = scratch + 0x100;
    d.access.write32(list, port);
    // {u64 ports; u32 nr_ports @8; u64 timeout @16}
    const poll = (ports: number, count: number, timeout: number) => {
      d.access.write64(scratch + 0x40, ports);
      d.access.write32(scratch + 0x48, count);
      d.access.write64(scratch + 0x50, timeout);
      return guest.hypercall(29, [3, scratch + 0x40]);
    };
    expect(poll(list, 129, 0)).toBe(EINVAL);
    for (const bad of [-(2 ** 47) - 4096, 2 ** 47 - 2, 0xffff800000000000 - 2 ** 64]) expect(poll(bad, 1, 0)).toBe(EFAULT);
    expect(guest.hypercall(29, [3, -(2 ** 47)])).toBe(EFAULT);
    expect(d.stop).toBe(null);
    guest.cpu.tscOffset += 100_000;
    clock.ns = 1_000_000;
    expect(guest.hypercall(24, [7, 0, 0])).toBe(0);
    expect(poll(list, 1, 3_000_000)).toBe(0);
    expect(d.stop).toBe('block');
    expect(clock.nextDeadline()).toBe(3_000_000);
    // VIRQ_TIMER's one-shot raises the polled port first: the poll ends and its timeout goes.
    d.access.write64(scratch + 16, 2_000_000);
    d.access.write32(scratch + 24, 0);
    expect(guest.hypercall(24, [8, 0, scratch + 16])).toBe(0);
    clock.ns = 2_000_000;
    clock.fireDue();
    expect(d.stop).toBe('block');
    expect(mayRun(d)).toBe(true);
    // What the vCPU's run does before it enters the guest again.
    resume(d);
    expect(clock.nextDeadline()).toBe(Infinity);
    // The port is still pending: a second poll returns at once.
    expect(poll(list, 1, 0)).toBe(0);
    expect(d.stop).toBe(null);
  });

  it('sets up and sizes its own grant table with the x86-64 structures, refusing what Xen refuses', () => {
    const { guest, d, scratch } = domain();
    const list = scratch + 0x100;
    // GNTTABOP_query_size {u16 dom; u32 nr_frames @4; u32 max_nr_frames @8; s16 status @12}
    d.access.write16(scratch, DOMID_SELF);
    d.access.write16(scratch + 12, 0x5555);
    expect(guest.hypercall(20, [6, scratch, 1])).toBe(0);
    const max = d.access.read32(scratch + 8);
    expect([d.access.read32(scratch + 4), max, d.access.read16(scratch + 12)]).toEqual([0, d.hv.grant.length, 0]);
    d.access.write16(scratch, 7); // another domain
    expect(guest.hypercall(20, [6, scratch, 1])).toBe(0);
    expect(d.access.read16(scratch + 12)).toBe(0x10000 - 2); // GNTST_bad_domain
    // GNTTABOP_setup_table {u16 dom; u32 nr_frames @4; s16 status @8; xen_pfn_t *frame_list @16}
    const setup = (dom: number, nr: number, frames: number) => {
      d.access.write16(scratch, dom);
      d.access.write32(scratch + 4, nr);
      d.access.write16(scratch + 8, 0x5555);
      d.access.write64(scratch + 16, frames);
      return guest.hypercall(20, [2, scratch, 1]);
    };
    for (let k = 0; k < max; k++) d.access.write64(list + k * 8, -1);
    expect(setup(DOMID_SELF, max, list)).toBe(0);
    expect(d.access.read16(scratch + 8)).toBe(0);
    // Each frame a full xen_pfn_t: the table's machine frames, upper halves cleared.
    for (let k = 0; k < max; k++) expect(d.access.read64(list + k * 8)).toBe(d.hv.grant[k]);
    expect(setup(DOMID_SELF, max + 1, list)).toBe(0);
    expect(d.access.read16(scratch + 8)).toBe(0x10000 - 1); // GNTST_general_error
    expect(setup(7, 1, list)).toBe(0);
    expect(d.access.read16(scratch + 8)).toBe(0x10000 - 8); // GNTST_permission_denied
    // A frame list in the hypervisor's hole or read-only, a table pointer off the map, huge counts, unknown ops.
    expect(setup(DOMID_SELF, 1, -(2 ** 47) + 0x1000)).toBe(EFAULT);
    expect(setup(DOMID_SELF, 1, d.access.read64(guest.built.startInfo + 88))).toBe(EFAULT);
    expect(guest.hypercall(20, [2, 2 ** 47, 1])).toBe(EFAULT);
    expect(guest.hypercall(20, [6, scratch, 513])).toBe(EINVAL);
    expect(guest.hypercall(20, [99, scratch, 1])).toBe(-38);
    // Mapping a grant: nobody but the back end grants, and it grants nothing to this domain.
    d.access.write16(scratch + 16, 0);
    expect(guest.hypercall(20, [0, scratch, 1])).toBe(0);
    expect(d.access.read16(scratch + 18)).toBe(0x10000 - 3); // GNTST_bad_gntref
  });

  it('moves vcpu_info once, to a page of the domain that can stay writable', () => {
    const { guest, d, scratch } = domain();
    const register = (mfn: number, offset: number) => {
      d.access.write64(scratch, mfn);
      d.access.write32(scratch + 8, offset);
      return guest.hypercall(24, [10, 0, scratch]);
    };
    expect(register(d.hv.sharedInfo, 0)).toBe(EINVAL); // not the domain's frame
    expect(register(d.p2m[400], 4090)).toBe(EINVAL); // runs past the page
    expect(register(d.kernelBase, 0)).toBe(EINVAL); // a page table
    expect(guest.hypercall(24, [10, 1, scratch])).toBe(-2); // no vCPU 1
    expect(d.upcallMask).toBe(1);
    expect(register(d.p2m[400], 64)).toBe(0);
    expect(d.vcpuInfoBase).toBe(d.p2m[400] * 4096 + 64);
    expect(d.memory.read8(d.vcpuInfoBase + 1)).toBe(1); // the mask came along
    expect(register(d.p2m[401], 0)).toBe(EINVAL); // once only
  });

  it('binds an IPI port for vCPU 0 only, and a send on it comes back pending', () => {
    const { guest, d, scratch } = domain();
    d.access.write32(scratch, 1);
    expect(guest.hypercall(32, [7, scratch])).toBe(-2);
    d.access.write32(scratch, 0);
    expect(guest.hypercall(32, [7, -(2 ** 47)])).toBe(EFAULT);
    expect(guest.hypercall(32, [7, scratch])).toBe(0);
    const port = d.access.read32(scratch + 4);
    expect(port).toBeGreaterThan(0);
    d.access.write32(scratch + 8, port);
    expect(guest.hypercall(32, [4, scratch + 8])).toBe(0);
    expect(d.memory.read8(d.sharedInfoBase + 2048 + (port >>> 3)) & (1 << (port & 7))).not.toBe(0);
    expect(d.eventPending()).toBe(true);
  });

  it('carries full 64-bit RCX, R11 and RAX through a bounce frame and iret, not rounded to 53 bits', () => {
    const { guest, d, scratch } = domain();
    const cpu = d.cpu;
    // Values a multiprecision loop leaves in registers when an event arrives (mpi limbs).
    const set = (reg: number, lo: number, hi: number) => { cpu.reg32[reg] = lo; cpu.regHi[reg] = hi; };
    set(1, 0x00000001, 0xc0000000 | 0);
    set(11, 0x7fffffff, 0x80000001 | 0);
    d.setReg(4, scratch + 0x800);
    expect(d.bounce(guest.built.entry, -1, true)).toBe(true);
    const rsp = d.reg(4);
    expect([d.access.read32(rsp), d.access.read32(rsp + 4), d.access.read32(rsp + 8), d.access.read32(rsp + 12)])
      .toEqual([0x00000001, 0xc0000000, 0x7fffffff, 0x80000001]);
    // iret frame {rax, r11, rcx, flags, rip, cs, rflags, rsp, ss} with 64-bit data in RAX, R11, RCX.
    const halves = [0x9abcdef1, 0xf2345678, 0x11111111, 0xfedcba98, 0x00000003, 0xffffffff];
    halves.forEach((v, i) => d.access.write32(scratch + i * 4, v));
    [0, guest.built.entry, 0xe030, 0x202, scratch + 0x800, 0xe02b].forEach((v, i) => d.access.write64(scratch + 24 + i * 8, v));
    d.setReg(4, scratch);
    set(0, 23, 0);
    guest.hypercall(23, []);
    expect(d.stop).toBe(null);
    const pair = (reg: number) => [cpu.reg32[reg] >>> 0, cpu.regHi[reg] >>> 0];
    expect([pair(0), pair(11), pair(1)]).toEqual([[0x9abcdef1, 0xf2345678], [0x11111111, 0xfedcba98], [0x00000003, 0xffffffff]]);
  });

  it('emulates kernel writes to its read-only L1 tables (MOV, XCHG, CMPXCHG, halves) and leaves refused ones to the guest as #PF', () => {
    const { guest, d, scratch, stats } = domain();
    const cpu = d.cpu;
    // The PTE that maps `scratch` and the read-only address the kernel sees that L1 page at.
    const u = scratch + 2 ** 48;
    let table = d.access.base;
    for (let level = 3; level >= 1; level--) table = d.tables.lo(table, Math.floor(u / 2 ** (12 + 9 * level)) % 512) >>> 12;
    const l1 = table;
    expect(d.tables.frames.type[l1]).toBe(TYPE_L1);
    const slot = Math.floor(u / 4096) % 512;
    const pteVa = -(2 ** 31) + Array.from(d.p2m).indexOf(l1) * 4096 + slot * 8;
    const original = [d.tables.lo(l1, slot), d.tables.hi(l1, slot)];
    const readOnly = (original[0] & ~2) >>> 0;
    const code = guest.built.entry;
    const run = (bytes: number[], regs: Record<number, number>) => {
      [...bytes, 0xeb, 0xfe].forEach((b, i) => d.access.write8(code + i, b));
      for (const [reg, value] of Object.entries(regs)) d.setReg(Number(reg), value);
      d.setReg(7, pteVa);
      d.rip = code;
      guest.run(20);
      return d.rip - code;
    };
    const pte = () => [d.tables.lo(l1, slot), d.tables.hi(l1, slot)];
    // mov %rax,(%rdi): the entry becomes read-only (U/S added, as Xen's adjust_guest_l1e does).
    expect(run([0x48, 0x89, 0x07], { 0: readOnly })).toBe(3);
    expect(pte()).toEqual([readOnly | 4, original[1]]);
    // mov %eax,4(%rdi): the high half alone (NX).
    expect(run([0x89, 0x47, 0x04], { 0: 0x80000000 })).toBe(3);
    expect(pte()).toEqual([readOnly | 4, 0x80000000 | 0]);
    // xchg %rdx,(%rdi): the old entry comes back in RDX.
    expect(run([0x48, 0x87, 0x17], { 2: original[0] })).toBe(3);
    expect([cpu.reg32[2] >>> 0, cpu.regHi[2] >>> 0]).toEqual([readOnly | 4, 0x80000000]);
    expect(pte()).toEqual([original[0] | 4, 0]);
    // lock cmpxchg %rcx,(%rdi): a stale RAX loads the entry (ZF clear), the right one writes (ZF set).
    expect(run([0xf0, 0x48, 0x0f, 0xb1, 0x0f], { 0: 12345, 1: readOnly })).toBe(5);
    expect(d.reg(0)).toBe(original[0] | 4);
    expect(cpu.getEflags() & 0x40).toBe(0);
    expect(pte()).toEqual([original[0] | 4, 0]);
    expect(run([0xf0, 0x48, 0x0f, 0xb1, 0x0f], { 0: original[0] | 4, 1: readOnly })).toBe(5);
    expect(cpu.getEflags() & 0x40).toBe(0x40);
    expect(pte()).toEqual([readOnly | 4, 0]);
    // ds andb $0xfd,(%r15): Linux's ptep_set_wrprotect (clear_bit, LOCK patched to DS on one CPU).
    d.setReg(15, pteVa);
    expect(run([0x3e, 0x41, 0x80, 0x27, 0xfd], {})).toBe(5);
    expect(pte()).toEqual([readOnly | 4, 0]);
    // lock orb $2,(%rdi) sets RW again; btr $1,(%rdi) clears it with the old bit in CF.
    expect(run([0xf0, 0x80, 0x0f, 0x02], {})).toBe(4);
    expect(pte()).toEqual([original[0] | 4, 0]);
    expect(cpu.getEflags() & 0x41).toBe(0);
    expect(run([0x48, 0x0f, 0xba, 0x37, 0x01], {})).toBe(5);
    expect(pte()).toEqual([readOnly | 4, 0]);
    expect(cpu.getEflags() & 1).toBe(1);
    // movb %ah,1(%rdi): a byte from a legacy high-byte register, merged into the entry.
    expect(run([0x88, 0x67, 0x01], { 0: ((original[0] >>> 8) & 0xff) << 8 })).toBe(3);
    expect(pte()).toEqual([readOnly | 4, 0]);
    expect(stats.named('emulated page-table writes')).toBe(9);
    expect(d.stop).toBe(null);
    // A writable mapping of a page table (the L4) is refused as mmu_update refuses it: the #PF is the guest's.
    run([0x48, 0x89, 0x07], { 0: d.access.base * 4096 + 0x67 });
    expect(d.stop).toBe('crash');
    expect(d.crashReason).toMatch(/unhandled trap 14/);
    expect(pte()).toEqual([readOnly | 4, 0]);
  });

  it('leaves misaligned, unknown and user-mode writes to L1 tables, and writes to other read-only pages, to the guest', () => {
    for (const [bytes, what] of [
      [[0x48, 0x89, 0x47, 0x01], 'misaligned mov'],
      [[0x48, 0x01, 0x07], 'add (not emulated)'],
      [[0x48, 0xff, 0x07], 'inc (not emulated)'],
      [[0x48, 0x0f, 0xba, 0x3f, 0x01], 'btc (not emulated)'],
    ] as const) {
      const { guest, d, scratch } = domain();
      const u = scratch + 2 ** 48;
      let table = d.access.base;
      for (let level = 3; level >= 1; level--) table = d.tables.lo(table, Math.floor(u / 2 ** (12 + 9 * level)) % 512) >>> 12;
      const slot = Math.floor(u / 4096) % 512;
      const before = [d.tables.lo(table, slot), d.tables.hi(table, slot)];
      const pteVa = -(2 ** 31) + Array.from(d.p2m).indexOf(table) * 4096 + slot * 8;
      [...bytes, 0xeb, 0xfe].forEach((b, i) => d.access.write8(guest.built.entry + i, b));
      d.setReg(0, 0);
      d.setReg(7, pteVa);
      d.rip = guest.built.entry;
      guest.run(20);
      expect(d.crashReason, what).toMatch(/unhandled trap 14/);
      expect([d.tables.lo(table, slot), d.tables.hi(table, slot)], what).toEqual(before);
    }
    // The read-only start_info page is not a page table: a write to it is the guest's #PF.
    const { guest, d } = domain();
    [0x48, 0x89, 0x07, 0xeb, 0xfe].forEach((b, i) => d.access.write8(guest.built.entry + i, b));
    d.setReg(7, d.access.read64(guest.built.startInfo + 88));
    d.rip = guest.built.entry;
    guest.run(20);
    expect(d.crashReason).toMatch(/unhandled trap 14/);
  });

  it('keeps the guest out of CPL 0 through iret and refuses ring-0 selectors', () => {
    const { guest, d, scratch } = domain();
    // iret frame {rax, r11, rcx, flags, rip, cs, rflags, rsp, ss}: cs 0xe008 (ring 0 code) becomes RPL 3 and is refused.
    const frame = [7, 0, 0, 0, guest.built.entry, 0xe008, 0x202, scratch + 0x800, 0xe02b];
    frame.forEach((v, i) => d.access.write64(scratch + i * 8, v));
    d.setReg(4, scratch);
    guest.hypercall(23, []);
    expect(d.reg(0)).toBe(7);
    expect(d.stop).toBe('crash');
    expect(d.crashReason).toMatch(/bad selectors .* no failsafe callback/);
    expect(d.cpu.cpl).toBe(3);
  });

  it('loads a user GS selector from the guest GDT as Xen does: RPL 3, the descriptor\'s base aside, null for a bad one', () => {
    const { guest, d, scratch } = domain();
    const SET_SEGMENT_BASE = 25;
    const [GS_USER, GS_KERNEL, GS_USER_SEL] = [1, 2, 3];
    // TLS entry 12 a present DPL-3 data segment at 0x12345000, entry 13 the same but not present.
    loadGuestGdt(guest, scratch, { 12: [0x5000ffff, 0x12cff334], 13: [0x5000ffff, 0x12cf7334] });
    expect(guest.hypercall(SET_SEGMENT_BASE, [GS_KERNEL, 0x7000_0000_0000])).toBe(0);
    const kernelGs = () => d.cpu.long.segBaseHi[5] * 2 ** 32 + (d.cpu.segBase[5] >>> 0);

    expect(guest.hypercall(SET_SEGMENT_BASE, [GS_USER_SEL, 12 * 8])).toBe(0);
    expect(d.cpu.seg[5]).toBe(12 * 8 + 3);
    expect(d.inactiveGs).toBe(0x12345000);
    expect(kernelGs()).toBe(0x7000_0000_0000);
    // Not present (#NP), past the GDT's limit (#GP), the LDT (empty): GS null, its base 0, the call succeeds.
    for (const bad of [13 * 8, 100 * 8, 12 * 8 + 4]) {
      expect(guest.hypercall(SET_SEGMENT_BASE, [GS_USER, 0x5555_0000])).toBe(0);
      expect(guest.hypercall(SET_SEGMENT_BASE, [GS_USER_SEL, bad])).toBe(0);
      expect([d.cpu.seg[5], d.inactiveGs], `selector ${bad}`).toEqual([0, 0]);
      expect(kernelGs()).toBe(0x7000_0000_0000);
    }
  });

  it('emulates MOV to CR3 as new_guest_cr3, and a frame that cannot be the domain\'s L4 is the guest\'s #GP', () => {
    const { guest, d, stats } = domain();
    const code = guest.built.entry;
    const run = (rax: number) => {
      // mov %rax,%cr3; jmp .
      [0x0f, 0x22, 0xd8, 0xeb, 0xfe].forEach((b, i) => d.access.write8(code + i, b));
      d.setReg(0, rax);
      d.rip = code;
      guest.run(20);
      return d.rip - code;
    };
    const l4 = d.kernelBase;
    expect(run(l4 * 4096 + 0x18)).toBe(3); // the flag bits are ignored
    expect([d.kernelBase, d.cpu.cr3]).toEqual([l4, l4 * 4096]);
    expect(stats.counters.get('emulated control register writes')).toBe(1);
    // The boot stack's frame is mapped writable: it cannot become an L4.
    const stackFrame = d.p2m[(guest.built.stackTop - 4096 - Number(BigInt.asIntN(64, VIRT_BASE))) / 4096];
    run(stackFrame * 4096);
    expect(d.kernelBase).toBe(l4);
    expect(stats.counters.get('emulated control register writes')).toBe(1);
    expect(d.stop).toBe('crash');
    expect(d.crashReason).toMatch(/13/);
  });

  it('keeps the debug registers as Xen\'s set_debugreg/get_debugreg do, with its answers to bad values', () => {
    const { guest, d } = domain();
    const [SET, GET] = [8, 9];
    const [EPERM, ENODEV] = [-1, -19];
    expect([guest.hypercall(GET, [6]), guest.hypercall(GET, [7])]).toEqual([0xffff0ff0, 0x400]);
    // DR0-DR3: guest addresses, user or kernel; the hypervisor's range and non-canonical ones are -EPERM.
    expect(guest.hypercall(SET, [0, 0x1000])).toBe(0);
    expect(guest.hypercall(SET, [1, -(2 ** 31)])).toBe(0);
    expect([guest.hypercall(GET, [0]), guest.hypercall(GET, [1])]).toEqual([0x1000, -(2 ** 31)]);
    expect(guest.hypercall(SET, [2, 2 ** 47])).toBe(EPERM);
    expect(guest.hypercall(SET, [3, -(2 ** 47)])).toBe(EPERM);
    // DR6/DR7: 32 bits, reserved bits forced; an I/O breakpoint needs CR4.DE.
    expect(guest.hypercall(SET, [6, 0x4001])).toBe(0);
    expect(guest.hypercall(GET, [6])).toBe(0xffff4ff1);
    expect(guest.hypercall(SET, [7, 1 | (2 << 16)])).toBe(EPERM);
    expect(guest.hypercall(SET, [7, 1 | (1 << 16) | 0x1800])).toBe(0);
    expect(guest.hypercall(GET, [7])).toBe(0x10401);
    expect(guest.hypercall(SET, [7, 2 ** 32 + 1])).toBe(EINVAL);
    expect(guest.hypercall(GET, [5])).toBe(0x10401); // DR5 is DR7 without CR4.DE...
    d.cpu.cr4 |= 8;
    expect(guest.hypercall(GET, [5])).toBe(ENODEV); // ...and absent with it
    expect(guest.hypercall(SET, [4, 0])).toBe(ENODEV);
    expect(guest.hypercall(SET, [7, 1 | (2 << 16)])).toBe(0);
    expect([guest.hypercall(SET, [8, 0]), guest.hypercall(GET, [-1])]).toEqual([ENODEV, EINVAL]);
  });

  it('returns to a compatibility-mode process through iret (a 32-bit DPL-3 code segment), and refuses L with D', () => {
    const { guest, d, scratch } = domain();
    // Entry 14 a DPL-3 code segment with L and D both set (reserved), entry 15 a 32-bit one.
    loadGuestGdt(guest, scratch, { 14: [0x0000ffff, 0x00effb00], 15: [0x0000ffff, 0x00cffb00] });
    // A user L4 (the kernel's serves), then iret to user mode on each code segment.
    d.access.write64(scratch + 0x100, 15);
    d.access.write64(scratch + 0x108, d.kernelBase);
    expect(guest.hypercall(26, [scratch + 0x100, 1, 0, 0x7ff0])).toBe(0);
    const iret = (cs: number) => {
      const frame = [7, 0, 0, 0, 0x08048054, cs, 0x202, 0xffffd000, 0xe02b];
      frame.forEach((v, i) => d.access.write64(scratch + 0x800 + i * 8, v));
      d.setReg(4, scratch + 0x800);
      guest.hypercall(23, []);
    };
    iret(0xe023); // Xen's FLAT_RING3_CS32
    expect([d.stop, d.cpu.seg[1], d.cpu.mode64, d.kernelMode, d.rip]).toEqual([null, 0xe023, false, false, 0x08048054]);
    d.toggleGuestMode();
    iret(15 * 8 + 3);
    expect([d.stop, d.cpu.seg[1], d.cpu.mode64]).toEqual([null, 15 * 8 + 3, false]);
    d.toggleGuestMode();
    iret(14 * 8 + 3);
    expect(d.stop).toBe('crash');
    expect(d.crashReason).toMatch(/bad selectors cs=0x73/);
  });

  it('brings up another vCPU from an x86-64 vcpu_guest_context checked as Xen checks it, and the last down powers off', () => {
    const { guest, d, scratch, vm } = domain(3);
    const frames = d.tables.frames;
    const l4Refs = frames.count[d.kernelBase];
    const ctx = scratch + 0x2000;
    const entry = guest.built.entry;
    /** A context for `vcpu`: kernel mode, flat kernel CS/SS, this L4, a stack below scratch; `patch` spoils it. */
    const fill = (patch?: (field: (offset: number, value: number) => void) => void) => {
      for (let i = 0; i < 5168; i += 8) d.access.write64(ctx + i, 0);
      const field = (offset: number, value: number) => d.access.write64(ctx + offset, value);
      field(512, 1 << 2);
      field(520 + 128, entry);
      field(520 + 136, 0xe033);
      field(520 + 152, scratch);
      field(520 + 160, 0xe02b);
      field(4976, scratch);
      field(4984 + 24, d.kernelBase * 4096);
      field(5112, entry);
      field(5152, 0x1234000);
      patch?.(field);
    };
    const vcpuOp = (cmd: number, vcpu: number, arg = ctx) => guest.hypercall(24, [cmd, vcpu, arg]);
    fill();
    expect(vcpuOp(0, 3)).toBe(-2);
    expect(vcpuOp(0, 0)).toBe(-17);
    expect(vcpuOp(0, 1, -(2 ** 47))).toBe(EFAULT);
    for (const [offset, value] of [[520 + 128, 2 ** 47], [4976, 2 ** 47 + 4096], [5152, 2 ** 48], [720 + 14 * 16 + 8, 2 ** 47]]) {
      fill((field) => field(offset, value));
      expect(vcpuOp(0, 1), `non-canonical at ${offset}`).toBe(EINVAL);
    }
    fill((field) => field(4824, 1));
    expect(vcpuOp(0, 1)).toBe(EINVAL);
    fill((field) => field(4960, 7169));
    expect(vcpuOp(0, 1)).toBe(EINVAL);
    fill((field) => { field(4960, 16); field(4832, d.hv.sharedInfo); });
    expect(vcpuOp(0, 1)).toBe(EINVAL);
    // CR3 (or the user one) naming no L4 of the domain: a data page, the hypervisor's GDT table, a frame past RAM.
    for (const [slot, frame] of [[3, guest.built.storeMfn], [3, d.hv.gdtL1], [3, 2 ** 40], [1, guest.built.storeMfn]]) {
      fill((field) => field(4984 + slot * 8, frame * 4096));
      expect(vcpuOp(0, 1), `ctrlreg[${slot}] = frame ${frame}`).toBe(EINVAL);
    }
    expect(frames.count[d.kernelBase]).toBe(l4Refs);
    expect(vcpuOp(1, 1, 0)).toBe(EINVAL);
    expect(vcpuOp(3, 1, 0)).toBe(0);
    // VCPUOP_register_vcpu_info for vCPU 2 before it runs (Linux does it from vCPU 0): its events go there.
    const page = Math.floor(d.access.translate(scratch + 0x4000, true) / 4096);
    d.access.write64(scratch + 0x100, page);
    d.access.write32(scratch + 0x108, 64);
    expect(vcpuOp(10, 2, scratch + 0x100)).toBe(0);
    expect(d.shared.vcpuInfo(2)).toBe(page * 4096 + 64);
    expect(vcpuOp(10, 2, scratch + 0x100)).toBe(EINVAL);
    fill();
    expect(vcpuOp(0, 1)).toBe(0);
    expect(vcpuOp(0, 1)).toBe(-17);
    expect(frames.count[d.kernelBase]).toBe(l4Refs + 1);
    expect(vcpuOp(1, 1, 0)).toBe(0);
    expect(vcpuOp(3, 1, 0)).toBe(1);
    const second = guest.runner(1)!;
    expect(second.domain.rip).toBe(entry);
    expect(second.domain.reg(4)).toBe(scratch);
    expect(second.cpu.cr3).toBe(d.kernelBase * 4096);
    expect(second.cpu.gdtrBase).not.toBe(guest.cpu.gdtrBase);
    expect(second.cpu.segBase[5] >>> 0).toBe(0x1234000);
    expect(vm.createVcpu(1).hasPendingEvent?.()).toBe(true);
    // vCPU 2 was never brought up: down already; then 1 and 0 go down, the last powering off.
    expect(vcpuOp(2, 2, 0)).toBe(0);
    expect(vcpuOp(2, 1, 0)).toBe(0);
    expect(d.stop).toBe(null);
    expect(vcpuOp(2, 0, 0)).toBe(0);
    expect(d.stop).toBe('poweroff');
  });
});
