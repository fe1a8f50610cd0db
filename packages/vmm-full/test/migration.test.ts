// A vCPU of strategy `full` moving between VM instances (as a type-1 hypervisor's pCPUs hold one
// domain): exported between slices of random length and imported into another VM over the same RAM
// and VMM frames (ping-pong: each instance finds the other's translations, shadow tables and shadow
// descriptors in its frames) or into a fresh VM over a copy of that memory. Every guest must end
// exactly as the run that never moved, with the same slices: output, instruction count, and final
// architectural state (the TSC among the MSRs). Then hostile states: refused with a RangeError, or
// run at ring 1 or 3 whatever CPL they claim, with the VMM's frames intact.
import type { GuestName } from '@ringvisor/guests';
import type { ExitReason, ExitStats, SegmentState, VcpuState, VmSpec } from '@ringvisor/vmm-api';
import { noneStrategy } from '@ringvisor/x86-core';
import { describe, expect, it } from 'vitest';
import { FullVcpu, VMM_LINEAR, fullStrategy } from '../src/index.js';
import { random } from './support/random.js';
import { runGuest, type GuestRun, type Migration, type RunOptions } from './support/run-guest.js';

const run = (name: GuestName, options: RunOptions) => runGuest(fullStrategy, name, options);

function expectSameEnd(moved: GuestRun, stayed: GuestRun): void {
  expect([moved.end, moved.exitStatus]).toEqual([stayed.end, stayed.exitStatus]);
  expect(moved.output).toBe(stayed.output);
  expect(moved.retired).toBe(stayed.retired);
  expect(moved.state).toEqual(stayed.state);
  const vcpu = moved.vcpu as FullVcpu;
  expect(() => vcpu.shadow.checkInvariants()).not.toThrow();
  expect(() => vcpu.checkTranslationCache()).not.toThrow();
}

/** Largest slice per guest, small enough for many moves, and how many slices a copy waits (copies are slow). */
const SLICES: [GuestName, number, number][] = [
  ['firmware-hello', 20, 1], ['hello-real', 20, 1], ['hello', 100, 1], ['irq-test', 50_000, 40], ['microbench', 20_000, 20], ['escape', 20_000, 20],
];

describe('bundled guests exported after each slice, or moved between VMs, end as if left alone', () => {
  for (const migration of ['export', 'ping-pong', 'copy'] as Migration[]) {
    it.each(SLICES)(`%s (${migration})`, (name, slice, copyEvery) => {
      const stayed = run(name, { slice, seed: 7 });
      expect([stayed.end, stayed.exitStatus]).toEqual(['halted', 1]);
      const moved = run(name, { slice, seed: 7, migration, every: migration === 'copy' ? copyEvery : 1 });
      expect(moved.moves).toBeGreaterThan(10);
      expectSameEnd(moved, stayed);
    }, 120_000);
  }

  it('sensitive (ping-pong): every sensitive instruction at CPL 0 and 3', () => {
    const stayed = run('sensitive', { seed: 3 });
    const moved = run('sensitive', { seed: 3, migration: 'ping-pong' });
    expect(moved.moves).toBeGreaterThan(1000);
    expectSameEnd(moved, stayed);
  }, 240_000);

  it('minikernel (paging, ring-3 processes, fork, demand paging, SYSENTER), exported and moved both ways', () => {
    const commands = ['ps', 'forkexec', 'pagefault', 'syscall', 'preempt', 'segv', 'nb sysenter 20', 'nb forkwait 5', 'poweroff'];
    const stayed = run('minikernel', { slice: 5_000, seed: 5, commands });
    expect(stayed.output).toContain('powering off');
    for (const migration of ['export', 'ping-pong', 'copy'] as Migration[]) {
      const moved = run('minikernel', { slice: 5_000, seed: 5, commands, migration, every: migration === 'copy' ? 100 : 1 });
      expect(moved.moves).toBeGreaterThan(30);
      expectSameEnd(moved, stayed);
    }
  }, 240_000);
});

const RAM = 2 * 1024 * 1024;
const CODE = 0x10000;

class Stats implements ExitStats {
  readonly byReason = new Map<ExitReason, number>();
  readonly byPort = new Map<number, number>();
  count(): void {}
}

function spec(mmio: number[], backing?: SharedArrayBuffer): VmSpec {
  return {
    ...(backing ? { ramBacking: () => backing } : {}),
    regions: [{ base: 0, size: RAM }],
    io: { read: () => 0xff, write: () => undefined },
    mmio: { read: () => 0xffffffff, write: (address, _size, value) => { mmio.push(address, value >>> 0); } },
    interrupts: { pending: () => false, acknowledge: () => 0x20 },
    stats: new Stats(),
  };
}

const flat = (selector: number, access: number) => ({ selector, base: 0, limit: 0xffffffff, access });

/** A state at virtual CPL 0 without paging, flat 4 GiB segments, at CODE. */
function kernelState(): VcpuState {
  const vm = fullStrategy.createVm(spec([]));
  const vcpu = vm.createVcpu(0);
  vcpu.setSpecialRegisters({
    cs: flat(0x08, 0xc09b), ds: flat(0x10, 0xc093), es: flat(0x10, 0xc093), fs: flat(0x10, 0xc093), gs: flat(0x10, 0xc093), ss: flat(0x10, 0xc093),
    tr: { selector: 0x18, base: 0x4000, limit: 0x67, access: 0x8b }, ldt: { selector: 0, base: 0, limit: 0, access: 0x10000 },
    gdt: { base: 0x1000, limit: 0x1f }, idt: { base: 0x2000, limit: 0x7ff }, cr0: 0x11, cr2: 0, cr3: 0, cr4: 0, efer: 0,
  });
  vcpu.setRegisters({ eax: 0, ecx: 0, edx: 0, ebx: 0, esp: 0x9000, ebp: 0, esi: 0, edi: 0, eip: CODE, eflags: 2 });
  return vcpu.exportState!();
}

/** A VcpuState any field of which may hold anything. */
interface Garbage {
  regs: Record<string, unknown>;
  sregs: Record<string, unknown> & Record<'cs' | 'ss' | 'ds' | 'es' | 'fs' | 'gs' | 'tr' | 'ldt', Record<string, unknown>>;
  msrs: unknown;
  pendingEvent: unknown;
  interruptShadow: unknown;
  halted: boolean;
  fpu: Uint8Array;
}

describe('the state carried', () => {
  it('registers, FPU, TSC, debug registers, SYSENTER MSRs, the interrupt shadow and halt go from one VM to another', () => {
    const backing = new SharedArrayBuffer(fullStrategy.hostRamSize!(RAM));
    const [a, b] = [0, 1].map(() => fullStrategy.createVm(spec([], backing)));
    // fld1; fldpi; sti; hlt
    [0xd9, 0xe8, 0xd9, 0xeb, 0xfb, 0xf4].forEach((byte, i) => a.memory.write8(CODE + i, byte));
    const onA = a.createVcpu(0);
    const onB = b.createVcpu(0);
    const start = kernelState();
    onA.importState!({
      ...start, debug: [1, 2, 3, 4, 0xffff0ff0, 0x400],
      msrs: [{ index: 0x174, value: 0x08n }, { index: 0x175, value: 0x9000n }, { index: 0x176, value: 0x12345n }],
    });
    expect(onA.run(3).reason).toBe('budget');
    const afterSti = onA.exportState!();
    expect(afterSti.interruptShadow).toBe(1);
    expect(afterSti.regs.eflags & 0x200).toBe(0x200);
    expect(afterSti.fpu.some((byte) => byte !== 0)).toBe(true);
    onB.importState!(afterSti);
    expect(onB.exportState!()).toEqual(afterSti);
    expect(onB.interruptible).toBe(false);
    expect(onB.run(1).reason).toBe('budget');
    const halted = onB.exportState!();
    expect([halted.halted, halted.regs.eip, halted.interruptShadow]).toEqual([true, CODE + 6, 0]);
    expect(halted.debug).toEqual([1, 2, 3, 4, 0xffff0ff0, 0x400]);
    expect(halted.msrs.filter((m) => m.index !== 0x10)).toEqual([
      { index: 0x174, value: 0x08n }, { index: 0x175, value: 0x9000n }, { index: 0x176, value: 0x12345n },
    ]);
    expect(halted.msrs.find((m) => m.index === 0x10)!.value).toBe(afterSti.msrs.find((m) => m.index === 0x10)!.value + 1n);
    onA.importState!(halted);
    const exit = onA.run(100);
    expect(exit).toEqual({ reason: 'hlt', interruptsEnabled: true });
    expect(onA.exportState!().fpu).toEqual(halted.fpu);
  });
  it('the shadow of a MOV SS (which holds back a single-step trap too) moves as such', () => {
    const backing = new SharedArrayBuffer(fullStrategy.hostRamSize!(RAM));
    const [a, b] = [0, 1].map(() => fullStrategy.createVm(spec([], backing)));
    // sti; nop; mov ss, ax; hlt
    [0xfb, 0x90, 0x8e, 0xd0, 0xf4].forEach((byte, i) => a.memory.write8(CODE + i, byte));
    // GDT entry 2 (selector 0x10, kernelState's GDT at 0x1000): flat writable data, DPL 0.
    a.memory.write32(0x1010, 0x0000ffff);
    a.memory.write32(0x1014, 0x00cf9300);
    const onA = a.createVcpu(0);
    const start = kernelState();
    onA.importState!({ ...start, regs: { ...start.regs, eax: 0x10 } });
    expect(onA.run(3).reason).toBe('budget');
    const state = onA.exportState!();
    expect([state.regs.eip, state.interruptShadow]).toEqual([CODE + 4, 2]);
    const onB = b.createVcpu(0);
    onB.importState!(state);
    expect(onB.exportState!().interruptShadow).toBe(2);
  });
});

describe('hostile states', () => {
  it('garbage in any field: a RangeError, or a run that ends in an exit with the VMM intact and the guest at ring 1 or 3', () => {
    const base = kernelState();
    const r = random(0xbad);
    const backing = new SharedArrayBuffer(fullStrategy.hostRamSize!(RAM));
    const vm = fullStrategy.createVm(spec([], backing));
    const vcpu = vm.createVcpu(0) as FullVcpu;
    for (let i = 0; i < RAM; i += 4) vm.memory.write32(i, r());
    const values = [0, 1, 2, 3, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xffffffff, -1, 1.5, NaN, 2 ** 40, VMM_LINEAR];
    const pick = () => (r() & 1 ? values[r() % values.length] : r());
    const segments = ['cs', 'ss', 'ds', 'es', 'fs', 'gs', 'tr', 'ldt'] as const;
    let refused = 0;
    let ran = 0;
    for (let n = 0; n < 3000; n++) {
      const state = structuredClone(base) as unknown as Garbage;
      for (let k = 1 + (r() % 4); k > 0; k--) {
        switch (r() % 9) {
          case 0: state.regs[['eax', 'esp', 'eip', 'eflags'][r() % 4]] = pick(); break;
          case 1: state.regs.eflags = (r() & 0x3f7fd7) | 2; break;
          case 2: state.sregs[segments[r() % 8]][['selector', 'base', 'limit', 'access'][r() % 4]] = pick(); break;
          case 3: state.sregs[segments[r() % 8]].access = r() & 0x1f0ff; break;
          case 4: state.sregs[['cr0', 'cr3', 'cr4', 'efer', 'cr2'][r() % 5]] = r() & 1 ? pick() : (r() & 0xe005003f); break;
          case 5: state.sregs[r() & 1 ? 'gdt' : 'idt'] = { base: pick(), limit: pick() }; break;
          case 6: state.msrs = [{ index: [0x10, 0x174, 0x175, 0x176, 0x1d9][r() % 5], value: BigInt(r()) << BigInt(r() % 40) }]; break;
          case 7: state.pendingEvent = { vector: pick(), kind: (['external', 'nmi', 'exception', 'software'] as const)[r() % 4], errorCode: r() & 1 ? null : pick() }; break;
          default: state.interruptShadow = pick(); state.halted = (r() & 1) === 1; state.fpu = new Uint8Array(r() & 1 ? 512 : r() % 600); break;
        }
      }
      try {
        vcpu.importState(state as unknown as VcpuState);
      } catch (e) {
        expect(e).toBeInstanceOf(RangeError);
        refused++;
        continue;
      }
      ran++;
      const hwBefore = vcpu.hw.retired;
      for (let s = 0; s < 3; s++) {
        const exit = vcpu.run(500);
        if (vcpu.hw.retired !== hwBefore) expect([1, 3]).toContain(vcpu.hw.cpl);
        if (exit.reason !== 'budget') break;
      }
    }
    expect(refused).toBeGreaterThan(300);
    expect(ran).toBeGreaterThan(300);
    expect(() => vcpu.shadow.checkInvariants()).not.toThrow();
    expect(() => vcpu.checkTranslationCache()).not.toThrow();
  }, 240_000);

  it('a state claiming CPL 0 with 4 GiB segments runs at ring 1 and reaches nothing of the VMM: as on the bare CPU', () => {
    // mov dword [VMM_LINEAR + 0x40000], 0xdeadbeef; mov eax, [VMM_LINEAR + 0x40000]; mov ebx, [VMM_LINEAR]; hlt
    const le = (v: number) => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24];
    const code = [0xc7, 0x05, ...le(VMM_LINEAR + 0x40000), ...le(0xdeadbeef), 0xa1, ...le(VMM_LINEAR + 0x40000), 0x8b, 0x1d, ...le(VMM_LINEAR), 0xf4];
    const state = kernelState();
    const results = [noneStrategy, fullStrategy].map((strategy) => {
      const mmio: number[] = [];
      const vm = strategy.createVm(spec(mmio, new SharedArrayBuffer(fullStrategy.hostRamSize!(RAM))));
      code.forEach((b, i) => vm.memory.write8(CODE + i, b));
      const vcpu = vm.createVcpu(0);
      if (strategy === fullStrategy) vcpu.importState!(state);
      else {
        vcpu.setSpecialRegisters(state.sregs);
        vcpu.setRegisters(state.regs);
      }
      const exit = vcpu.run(100);
      return { exit: exit.reason, regs: vcpu.getRegisters(), mmio, vcpu };
    });
    const [none, full] = results;
    expect(full.exit).toBe('hlt');
    expect(full.regs).toEqual(none.regs);
    expect(full.mmio).toEqual(none.mmio);
    const vcpu = full.vcpu as FullVcpu;
    expect(vcpu.hw.cpl).toBe(1);
    expect(() => vcpu.checkTranslationCache()).not.toThrow();
  });

  it('names what it refuses', () => {
    const state = kernelState();
    const vcpu = fullStrategy.createVm(spec([])).createVcpu(0);
    const refuse = (change: Partial<VcpuState>, message: RegExp) => expect(() => vcpu.importState!({ ...state, ...change })).toThrow(message);
    refuse({ sregs: { ...state.sregs, ds: { ...state.sregs.ds, access: 0x8b } } }, /ds: access 0x8b is not a present data/);
    refuse({ sregs: { ...state.sregs, cs: { ...state.sregs.cs, access: 0xc093 } } }, /cs: .* not a present code segment/);
    refuse({ sregs: { ...state.sregs, efer: 0x500 } }, /no EFER/);
    refuse({ sregs: { ...state.sregs, cr0: 0x80000000 } }, /PG without PE/);
    refuse({ regs: { ...state.regs, eip: 2 ** 32 } }, /eip: .* not a 32-bit/);
    refuse({ msrs: [{ index: 0x1d9, value: 0n }] }, /no MSR 0x1d9/);
    refuse({ fpu: new Uint8Array(3) }, /512 bytes/);
    refuse({ pendingEvent: { vector: 0x80, kind: 'software', errorCode: null } }, /pending software event/);
    refuse({ sregs: { ...state.sregs, gs: undefined as unknown as SegmentState } }, /gs: missing/);
    refuse({ msrs: 'none' as unknown as VcpuState['msrs'] }, /debug and msrs are arrays/);
    expect(() => vcpu.importState!(null as unknown as VcpuState)).toThrow(/state: missing/);
  });
});
