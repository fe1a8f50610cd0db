// Random hypercalls with hostile arguments (seeded, reproducible): never a host exception, never a
// byte outside the domain changed, never a page-table page writable, never a way to ring 0.
import { describe, expect, it } from 'vitest';
import { FIRST_XEN_L2_SLOT, PTE_P, PTE_RW } from '../src/abi.js';
import type { Domain } from '../src/domain.js';
import { TYPE_L1, TYPE_L2, TYPE_SEGDESC, TYPE_WRITABLE } from '../src/frames.js';
import { GuestFault } from '../src/guest-access.js';
import { DirectDomain, outsideDigest, paintCanary } from './direct-domain.js';
import { assembleGuest, bootGuest, haveToolchain, MemoryDisk, rng, symbol } from './pv-harness.js';

/** Every typed table is consistent with what validation allows. */
function checkTables(domain: Domain): void {
  const frames = domain.tables.frames;
  const memory = domain.memory;
  for (let mfn = 0; mfn < frames.frames; mfn++) {
    const type = frames.type[mfn];
    if (type === TYPE_L1) {
      for (let i = 0; i < 1024; i++) {
        const pte = memory.read32(mfn * 4096 + i * 4) >>> 0;
        if ((pte & PTE_P) === 0) continue;
        expect(frames.mappable(pte >>> 12)).toBe(true);
        if ((pte & PTE_RW) !== 0) expect(frames.type[pte >>> 12]).toBe(TYPE_WRITABLE);
      }
    } else if (type === TYPE_L2) {
      for (let i = 0; i < 1024; i++) {
        const pde = memory.read32(mfn * 4096 + i * 4) >>> 0;
        if (i >= FIRST_XEN_L2_SLOT) expect(pde).toBe(domain.xenL2Slots[i - FIRST_XEN_L2_SLOT]);
        else if ((pde & PTE_P) !== 0) expect(frames.type[pde >>> 12]).toBe(TYPE_L1);
      }
    } else if (type === TYPE_SEGDESC) {
      for (let i = 0; i < 512; i++) {
        const hi = memory.read32(mfn * 4096 + i * 8 + 4) >>> 0;
        if ((hi & 0x8000) !== 0) expect((hi >>> 13) & 3).not.toBe(0);
      }
    }
  }
}

describe.skipIf(!haveToolchain())('hypercall fuzzing', () => {
  const image = haveToolchain() ? assembleGuest('_start: jmp _start') : new Uint8Array();

  it('survives 8000 random hypercalls with hostile arguments', () => {
    const next = rng(0x5eed);
    let d = new DirectDomain(bootGuest(image, { disk: new MemoryDisk(new Uint8Array(16 * 512)) }));
    paintCanary(d.domain);
    let canary = outsideDigest(d.domain);
    const pick = <T>(items: readonly T[]): T => items[next() % items.length];
    for (let n = 0; n < 8000; n++) {
      const domain = d.domain;
      const frame = () => pick([domain.p2m[next() % domain.p2m.length], domain.baseptr, domain.hv.idt, domain.hv.hvL1, next() % 5000, 0xfffff]);
      const pointer = () => pick([d.scratch, d.scratch + (next() % 0x8000), d.startInfo, 0xfc000000, 0x1000, 0xfffffffc, next()]);
      const value = () => pick([(frame() * 4096) | (next() & 0xfff), next(), 0, 0x7ff0, 0xffffffff, next() % 64]);
      // Fill part of the scratch area with plausible requests: [pointer or table address, value] pairs.
      // (The fuzzed calls may have unmapped the scratch page itself: then the old contents stay.)
      try {
        for (let i = 0; i < 8; i++) d.put32(d.scratch + i * 16, pick([d.pteAddress(d.scratch + 0x8000 + i * 4096), frame() * 4096 + (next() & 0xffc), value()]), 0, value(), 0);
      } catch (error) {
        if (!(error instanceof GuestFault)) throw error;
      }
      const nr = pick([0, 1, 2, 3, 4, 5, 10, 12, 13, 14, 15, 17, 18, 20, 21, 24, 26, 29, 32, 33, next() % 64]);
      const args = [pick([pointer(), value()]), pick([next() % 10, value(), 0xffffffff]), pick([0, pointer(), value()]), pick([0x7ff0, value()]), value(), value()];
      // Keep the domain running: shutdowns and iret are exercised elsewhere.
      if (nr === 29 && args[0] === 2) continue;
      if (nr === 23) continue;
      expect(() => d.guest.hypercall(nr, args)).not.toThrow();
      const cpu = domain.cpu;
      expect(cpu.cpl === 1 || cpu.cpl === 3).toBe(true);
      if (n % 2000 === 1999 || domain.stop !== null) {
        checkTables(domain);
        expect(outsideDigest(domain)).toBe(canary);
        if (domain.stop !== null) {
          d = new DirectDomain(bootGuest(image));
          paintCanary(d.domain);
          canary = outsideDigest(d.domain);
        }
      }
    }
    checkTables(d.domain);
    expect(outsideDigest(d.domain)).toBe(canary);
  }, 120_000);

  it('never returns to ring 0 through a forged iret frame', () => {
    const next = rng(0x1e7);
    const d = new DirectDomain(bootGuest(image));
    const cpu = d.domain.cpu;
    const sregs = d.booted.vcpu.getSpecialRegisters();
    const regs = d.booted.vcpu.getRegisters();
    for (let n = 0; n < 300; n++) {
      d.booted.vcpu.setSpecialRegisters(sregs);
      d.booted.vcpu.setRegisters(regs);
      d.domain.stop = null;
      const esp = d.scratch + 0x100;
      cpu.reg32[4] = esp;
      const cs = [0xe008, 0xe009, 0xe019, 0xe02b, 0xe010, 0x0008, 0xe01b, next() & 0xffff][next() % 8];
      const ss = [0xe033, 0xe021, 0xe010, 0xe011, 0, next() & 0xffff][next() % 6];
      d.put32(esp, next(), next(), cs, next(), next(), ss);
      d.guest.hypercall(23, [0, 0, 0, 0, 0, 0]);
      if (d.domain.stop === null) {
        expect([1, 3]).toContain(cpu.cpl);
        expect(cpu.seg[1] & 3).toBe(cpu.cpl);
        expect((cpu.segAccess[1] >>> 5) & 3).not.toBe(0);
        expect((cpu.segAccess[2] >>> 5) & 3).toBe(cpu.cpl);
      } else expect(d.domain.stop).toBe('crash');
    }
  }, 120_000);

  it('survives random ring-1 code salted with hypercalls (200 seeds)', () => {
    const guest = assembleGuest(`
_start:
  mov $traps, %ebx
  HYPERCALL 0
  mov $0x5a5a5a5a, %eax
  mov $0x00001000, %ebx
  jmp random_code
handler:
  mov $0xe021, %ax
  mov %ax, %ds
  POWEROFF
.balign 4096
random_code: .skip 8192
.data
traps:
  .irp v, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,16,17,18,19
  .byte \\v, 0
  .word 0xe019
  .long handler
  .endr
  .long 0, 0
`);
    const code = symbol(guest, 'random_code');
    for (let seed = 1; seed <= 200; seed++) {
      const next = rng(seed * 7919);
      const booted = bootGuest(guest);
      const d = new DirectDomain(booted);
      paintCanary(d.domain);
      const canary = outsideDigest(d.domain);
      const bytes = new Uint8Array(8192);
      for (let i = 0; i < bytes.length; i++) bytes[i] = next() & 0xff;
      for (let i = 0; i + 1 < bytes.length; i += 1 + (next() % 24)) bytes.set([0xcd, 0x82], i);
      d.domain.access.writeBytes(code, bytes);
      const exit = booted.run(50);
      expect(['shutdown', 'internal-error', 'budget', 'hlt']).toContain(exit.reason);
      if (exit.reason === 'internal-error') expect(exit.detail).toMatch(/^domain crashed/);
      expect([1, 3]).toContain(d.domain.cpu.cpl);
      checkTables(d.domain);
      expect(outsideDigest(d.domain)).toBe(canary);
    }
  }, 300_000);
});
