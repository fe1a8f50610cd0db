import { afterEach, expect, it } from 'vitest';
import type { SpecialRegisters } from '@ringvisor/vmm-api';
import { KvmModeError, kvmPagingUnsupportedReason } from '../src/index.js';
import {
  describeKvm, flat32, LOAD_ADDRESS, longMode64, machine, RecordingMmio, runToExit, type TestMachine,
} from './kvm-guest.js';

const CR0_PE = 1 << 0;
const CR0_ET = 1 << 4;
const CR0_PG = 1 << 31;
const EFER_LME = 1 << 8;
const EFER_LMA = 1 << 10;

describeKvm('protected- and long-mode entry through setSpecialRegisters', () => {
  let m: TestMachine | undefined;
  afterEach(() => { m?.vm.destroy(); m = undefined; });

  function enter(sregs: SpecialRegisters, regs: { esi?: number } = {}): void {
    m!.vcpu.setSpecialRegisters(sregs);
    m!.vcpu.setRegisters({ ...m!.vcpu.getRegisters(), eip: LOAD_ADDRESS, esp: 0x8000, eflags: 0x2, esi: regs.esi ?? 0 });
  }

  it('runs flat 32-bit code that writes RAM, a port and MMIO', () => {
    m = machine('pm32', { mmio: new RecordingMmio({ 0xd0000004: 0x87654321 }) });
    enter(flat32(m.vcpu.getSpecialRegisters(), CR0_PE | CR0_ET));
    expect(runToExit(m.vcpu).reason).toBe('hlt');
    expect(m.vm.memory.read32(0x2000)).toBe(0xcafef00d);
    expect(m.io.writes(0x20)).toEqual([0xcafef00d]);
    expect(m.io.writes(0x22)).toEqual([0x18]);
    expect(m.mmio.log).toEqual([
      { address: 0xd0000000, size: 4, value: 0x12345678, write: true },
      { address: 0xd0000004, size: 4, value: 0x87654321, write: false },
    ]);
    expect(m.io.writes(0x24)).toEqual([0x87654321]);
  });

  it('reads back the segment state it was given (VMX access rights <-> kvm_segment)', () => {
    m = machine('pm32');
    const want = flat32(m.vcpu.getSpecialRegisters(), CR0_PE | CR0_ET);
    enter(want);
    const got = m.vcpu.getSpecialRegisters();
    for (const name of ['cs', 'ds', 'es', 'fs', 'gs', 'ss', 'tr'] as const) expect(got[name]).toEqual(want[name]);
    expect(got.ldt.access & (1 << 16)).toBe(1 << 16);
    expect(got.cr0 & (CR0_PE | CR0_PG)).toBe(CR0_PE);
  });

  it('runs 32-bit paged code: a store through a remapped page lands in the mapped frame', (ctx) => {
    m = machine('paged32');
    const mem = m.vm.memory;
    const PD = 0x10000, PT0 = 0x11000, PT1 = 0x12000, FRAME = 0x20000;
    const P_RW = 0x3;
    mem.write32(PD, PT0 | P_RW);
    mem.write32(PD + 4, PT1 | P_RW);
    for (let i = 0; i < 1024; i++) mem.write32(PT0 + 4 * i, (i << 12) | P_RW); // identity, first 4 MiB
    mem.write32(PT1, FRAME | P_RW); // linear 400000h -> physical 20000h
    try {
      enter(flat32(m.vcpu.getSpecialRegisters(), CR0_PE | CR0_ET | CR0_PG, PD));
    } catch (err) {
      // Only the "this KVM has no such mode" answer is a reason to skip; anything else fails.
      if (!(err instanceof KvmModeError)) throw err;
      console.log(`[vmm-hw] skipping 32-bit paging: ${err.message}`);
      ctx.skip();
    }
    expect(runToExit(m.vcpu).reason).toBe('hlt');
    expect(mem.read32(FRAME)).toBe(0x600df00d);
    expect(m.io.writes(0x20)[0] & (CR0_PG | CR0_PE)).toBe((CR0_PG | CR0_PE) >>> 0);
  });

  it('probes 32-bit paging as KVM_SET_SREGS answers it: a reason exactly where the mode is refused', () => {
    m = machine('paged32');
    let refused = false;
    try {
      enter(flat32(m.vcpu.getSpecialRegisters(), CR0_PE | CR0_ET | CR0_PG, 0x10000));
    } catch (err) {
      if (!(err instanceof KvmModeError)) throw err;
      refused = true;
    }
    const reason = kvmPagingUnsupportedReason();
    expect(reason !== null).toBe(refused);
    if (reason !== null) expect(reason).toMatch(/does not run 32-bit paged guests/);
  });

  it('runs 64-bit code entered as the Linux 64-bit boot protocol sets the CPU up', () => {
    m = machine('long64');
    const sregs = longMode64(m.vm.memory, m.vcpu.getSpecialRegisters());
    enter(sregs, { esi: 0x7000 });
    expect(runToExit(m.vcpu).reason).toBe('hlt');
    expect(m.io.writes(0x20)).toEqual([0x55667788, 0x11223344]);
    expect(m.io.writes(0x24)).toEqual([0x7000]);
    const got = m.vcpu.getSpecialRegisters();
    expect(got.cs.access & 0xe0ff).toBe(0xa09b);
    expect(got.efer & (EFER_LME | EFER_LMA)).toBe(EFER_LME | EFER_LMA);
  });

  it('reports a triple fault (an exception with an empty IDT) as a shutdown exit', () => {
    m = machine('triple-fault');
    enter({ ...flat32(m.vcpu.getSpecialRegisters(), CR0_PE | CR0_ET), idt: { base: 0, limit: 0 } });
    expect(runToExit(m.vcpu)).toMatchObject({ reason: 'shutdown', cause: 'triple-fault' });
    expect(m.stats.byReason.get('shutdown')).toBe(1);
  });
});
