// The entry states @ringvisor/machine's loaders hand the hypervisor, set through
// setSpecialRegisters/setRegisters exactly as the hypervisor does, on the same tiny guests.
import { afterEach, expect, it } from 'vitest';
import { longModeEntry, protectedModeEntry, realModeEntry, resetEntry, type EntryState } from '@ringvisor/machine';
import { describeKvm, guestBytes, LOAD_ADDRESS, longMode64, machine, runToExit, type TestMachine } from './kvm-guest.js';

const GDT = 0x500;
/** Flat 4 GiB descriptors: base 0, limit FFFFFh, G=1; code is type Bh with D=1 (32-bit) or L=1 (64-bit). */
const DESCRIPTOR = { code32: 0x00cf9b000000ffffn, code64: 0x00af9b000000ffffn, data: 0x00cf93000000ffffn } as const;

function enter(m: TestMachine, entry: EntryState): void {
  m.vcpu.setSpecialRegisters(entry.sregs);
  m.vcpu.setRegisters(entry.regs);
}

function writeGdt(m: TestMachine, code: 'code32' | 'code64'): { base: number; limit: number } {
  [0n, 0n, DESCRIPTOR[code], DESCRIPTOR.data].forEach((d, i) => {
    m.vm.memory.write32(GDT + 8 * i, Number(d & 0xffff_ffffn));
    m.vm.memory.write32(GDT + 8 * i + 4, Number(d >> 32n));
  });
  return { base: GDT, limit: 4 * 8 - 1 };
}

describeKvm('machine loaders\' entry states on KVM', () => {
  let m: TestMachine | undefined;
  afterEach(() => { m?.vm.destroy(); m = undefined; });

  it('realModeEntry', () => {
    m = machine('out-loop');
    enter(m, realModeEntry(0, LOAD_ADDRESS, 0, 0x8000));
    expect(runToExit(m.vcpu)).toEqual({ reason: 'hlt', interruptsEnabled: false });
    expect(m.io.writes(0x10)).toEqual([1, 2, 3, 4, 5]);
  });

  it('resetEntry, running from a read-only ROM at the top of 4 GiB', () => {
    const rom = new Uint8Array(0x10000);
    rom.set(guestBytes('reset'), 0xfff0);
    m = machine('hlt', { regions: [{ base: 0, size: 0xa0000 }, { base: 0xffff0000, size: 0x10000, rom }] });
    enter(m, resetEntry());
    expect(runToExit(m.vcpu).reason).toBe('hlt');
    expect(m.io.writes(0x10)).toEqual([0x5a]);
  });

  it('protectedModeEntry (the Linux 32-bit boot protocol\'s flat segments)', () => {
    m = machine('pm32');
    enter(m, protectedModeEntry(LOAD_ADDRESS, 0x10, 0x18, writeGdt(m, 'code32')));
    expect(runToExit(m.vcpu).reason).toBe('hlt');
    expect(m.io.writes(0x20)).toEqual([0xcafef00d]);
    expect(m.io.writes(0x22)).toEqual([0x18]);
  });

  it('longModeEntry (the Linux 64-bit boot protocol)', () => {
    m = machine('long64');
    const cr3 = longMode64(m.vm.memory, m.vcpu.getSpecialRegisters()).cr3; // identity page tables
    const entry = longModeEntry(LOAD_ADDRESS, 0x10, 0x18, writeGdt(m, 'code64'), cr3);
    enter(m, { ...entry, regs: { ...entry.regs, esi: 0x7000 } });
    expect(runToExit(m.vcpu).reason).toBe('hlt');
    expect(m.io.writes(0x20)).toEqual([0x55667788, 0x11223344]);
    expect(m.io.writes(0x24)).toEqual([0x7000]);
  });
});
