// Hostile guests under hw:vmx against the bare emulated CPU (strategy none): random code in flat
// protected mode with registers pointing into RAM, past it and into MMIO, free to load CR0/CR3/CR4
// (page tables anywhere: in RAM, in MMIO, past memory), take faults, do port I/O and MMIO. The
// guest-visible state — registers, system registers, all of RAM, every bus access, how runs end —
// must be identical, and nothing may throw in the host.
import type { AccessSize, ExitReason, ExitStats, SpecialRegisters, Vcpu, Vm, VmExit, VmmStrategy, VmSpec } from '@ringvisor/vmm-api';
import { noneStrategy } from '@ringvisor/x86-core';
import { describe, expect, it } from 'vitest';
import { vmxStrategy } from '../src/index.js';
import { flatProtectedMode } from './flat-protected.js';

const RAM = 0x200000;
const CODE = 0x10000;

/** A deterministic PRNG (xorshift32) so a failure names its seed. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13; x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5; x >>>= 0;
    return x;
  };
}

function stats(): ExitStats {
  const byReason = new Map<ExitReason, number>();
  return { byReason, byPort: new Map(), count: (r) => byReason.set(r, (byReason.get(r) ?? 0) + 1) };
}

interface Run { log: string[]; exits: string[]; regs: unknown; sregs: SpecialRegisters; ram: Uint8Array }

/**
 * `migrate`: after every run the vCPU's state moves to another VM over the same RAM, as a type-1
 * hypervisor moves a vCPU between pCPUs: a new VM each time, or two VMs in turn (each keeps its
 * caches from its last turn, which the import must drop).
 */
function run(strategy: VmmStrategy, seed: number, migrate: 'no' | 'fresh' | 'alternate' = 'no'): Run {
  const log: string[] = [];
  const ramBuffer = new SharedArrayBuffer(RAM);
  const spec: VmSpec = {
    regions: [{ base: 0, size: RAM }],
    io: {
      read: (port: number, size: AccessSize) => { log.push(`in ${port}/${size}`); return (port * 7) & 0xff; },
      write: (port: number, size: AccessSize, value: number) => { log.push(`out ${port}/${size}=${value >>> 0}`); },
    },
    mmio: {
      read: (address: number, size: AccessSize) => { log.push(`r ${address}/${size}`); return (address >>> 2) & 0xffffff; },
      write: (address: number, size: AccessSize, value: number) => { log.push(`w ${address}/${size}=${value >>> 0}`); },
    },
    interrupts: { pending: () => false, acknowledge: () => 0x20 },
    stats: stats(),
    ramBacking: () => ramBuffer,
  };
  let vm = strategy.createVm(spec);
  const first = vm;
  const next = rng(seed);
  const m = vm.memory;
  // GDT at 0x1000: null, flat code 0x08, flat data 0x10, a 16-bit data 0x18; IDT at 0x2000: every
  // vector to a handler at 0x3000 + 16 * vector that halts.
  m.write32(0x1008, 0x0000ffff); m.write32(0x100c, 0x00cf9b00);
  m.write32(0x1010, 0x0000ffff); m.write32(0x1014, 0x00cf9300);
  m.write32(0x1018, 0x0000ffff); m.write32(0x101c, 0x00009300);
  for (let v = 0; v < 256; v++) {
    const handler = 0x3000 + v * 16;
    m.write32(0x2000 + v * 8, (0x08 << 16) | (handler & 0xffff));
    m.write32(0x2000 + v * 8 + 4, (handler & 0xffff0000) | 0x8e00);
    m.write8(handler, 0xf4);
  }
  // A page directory at 0x4000 whose entries point anywhere (RAM, MMIO, past memory), for a guest that turns paging on.
  for (let i = 0; i < 1024; i++) m.write32(0x4000 + i * 4, (next() & 0xfffff000) | (next() & 0xff) | 1);
  for (let i = 0; i < 1024; i++) m.write32(0x5000 + i * 4, ((i << 12) | 0x7) >>> 0);
  m.write32(0x4000, 0x5007);
  const code = new Uint8Array(0x2000);
  for (let i = 0; i < code.length; i++) code[i] = next() & 0xff;
  m.writeBytes(CODE, code);
  let vcpu = vm.createVcpu(0);
  const firstVcpu = vcpu;
  let other: { vm: Vm; vcpu: Vcpu } | null = null;
  vcpu.setSpecialRegisters(flatProtectedMode(0x1f, 0x4000));
  const pick = [0x4000, RAM - 4, RAM, RAM + 0x1000, 0xd0000000, 0xfffffffc, CODE + 0x100];
  const reg = () => (next() & 3) === 0 ? next() : pick[next() % pick.length] + (next() & 0xff);
  vcpu.setRegisters({ eax: reg(), ecx: next() & 0xff, edx: reg(), ebx: reg(), esp: 0x9000, ebp: reg(), esi: reg(), edi: reg(), eip: CODE, eflags: 2 });
  const exits: string[] = [];
  for (let i = 0; i < 20; i++) {
    const exit: VmExit = vcpu.run(400);
    exits.push(exit.reason === 'internal-error' ? `internal-error: ${exit.detail}` : exit.reason);
    if (exit.reason !== 'budget') break;
    if (migrate !== 'no') {
      const state = vcpu.exportState!();
      if (migrate === 'fresh') {
        vm.destroy();
        vm = strategy.createVm(spec);
        vcpu = vm.createVcpu(0);
      } else {
        if (other === null) {
          const second = strategy.createVm(spec);
          other = { vm: second, vcpu: second.createVcpu(0) };
        }
        const next = vm === first ? other : { vm: first, vcpu: firstVcpu };
        vm = next.vm;
        vcpu = next.vcpu;
      }
      vcpu.importState!(state);
    }
  }
  const ram = new Uint8Array(RAM);
  m.readBytes(0, ram);
  const result = { log, exits, regs: vcpu.getRegisters(), sregs: vcpu.getSpecialRegisters(), ram };
  vm.destroy();
  return result;
}

describe('hw:vmx against none: random hostile code', () => {
  it('200 random programs: same registers, system registers, RAM, bus accesses and run ends', () => {
    for (let seed = 1; seed <= 200; seed++) {
      const none = run(noneStrategy, seed);
      const vmx = run(vmxStrategy, seed);
      expect(vmx.exits, `seed ${seed}`).toEqual(none.exits);
      expect(vmx.regs, `seed ${seed}`).toEqual(none.regs);
      expect(vmx.sregs, `seed ${seed}`).toEqual(none.sregs);
      expect(vmx.log, `seed ${seed}`).toEqual(none.log);
      expect(Buffer.compare(Buffer.from(vmx.ram), Buffer.from(none.ram)), `seed ${seed}: RAM`).toBe(0);
      for (const e of vmx.exits) expect(e, `seed ${seed}`).not.toMatch(/internal-error/);
    }
  }, 600_000);

  it.each(['fresh', 'alternate'] as const)('a vCPU moved to a %s VM after every run (state export/import) ends exactly as one left alone', (how) => {
    for (let seed = 1; seed <= 100; seed++) {
      const alone = run(vmxStrategy, seed);
      const moved = run(vmxStrategy, seed, how);
      expect(moved.exits, `seed ${seed}`).toEqual(alone.exits);
      expect(moved.regs, `seed ${seed}`).toEqual(alone.regs);
      expect(moved.sregs, `seed ${seed}`).toEqual(alone.sregs);
      expect(moved.log, `seed ${seed}`).toEqual(alone.log);
      expect(Buffer.compare(Buffer.from(moved.ram), Buffer.from(alone.ram)), `seed ${seed}: RAM`).toBe(0);
    }
  }, 600_000);
});
