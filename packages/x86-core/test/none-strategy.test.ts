import type {
  Clock, ExitReason, ExitStats, IoBus, MmioBus, SegmentState, SpecialRegisters, VmSpec, VmmStrategy,
} from '@ringvisor/vmm-api';
import { describe, expect, it } from 'vitest';
import { createNoneStrategy, noneStrategy } from '../src/strategy/none.js';

// Strategy `none` as a hypervisor uses it: VM from a VmSpec, one vCPU, exits through vmm-api.

function stats(): ExitStats {
  return {
    byReason: new Map<ExitReason, number>(),
    byPort: new Map<number, number>(),
    count(reason, port) {
      this.byReason.set(reason, (this.byReason.get(reason) ?? 0) + 1);
      if (port !== undefined) this.byPort.set(port, (this.byPort.get(port) ?? 0) + 1);
    },
  };
}

function spec(overrides: Partial<VmSpec> = {}): VmSpec {
  const written: number[] = [];
  const io: IoBus = { read: () => 0x42, write: (_p, _s, v) => void written.push(v) };
  const mmio: MmioBus = { read: () => 0x1234, write: () => undefined };
  return {
    regions: [{ base: 0, size: 1 << 20 }],
    io, mmio,
    interrupts: { pending: () => false, acknowledge: () => 0 },
    stats: stats(),
    ...overrides,
  };
}

const FLAT_CODE: SegmentState = { selector: 8, base: 0, limit: 0xffffffff, access: 0xc09b };
const FLAT_DATA: SegmentState = { selector: 16, base: 0, limit: 0xffffffff, access: 0xc093 };

describe('strategy none', () => {
  /** A VM whose vCPU sits in real mode at 0x7c00 on `code`. */
  function realModeVcpu(s: VmSpec, code: number[]) {
    const vm = noneStrategy.createVm(s);
    vm.memory.writeBytes(0x7c00, Uint8Array.from(code));
    const vcpu = vm.createVcpu(0);
    const real = (selector: number, access: number): SegmentState => ({ selector, base: selector << 4, limit: 0xffff, access });
    vcpu.setSpecialRegisters({ ...vcpu.getSpecialRegisters(), cs: real(0, 0x9b), ds: real(0, 0x93), ss: real(0, 0x93), es: real(0, 0x93) });
    vcpu.setRegisters({ ...vcpu.getRegisters(), eip: 0x7c00, esp: 0x7000 });
    return vcpu;
  }

  // rdtsc; mov esi, eax; mov edi, edx; (400 instructions: mov cx, 200; loop $ ... ) rdtsc; hlt
  const TWO_READINGS = [
    0x0f, 0x31, 0x66, 0x89, 0xc6, 0x66, 0x89, 0xd7,
    0xb9, 0xc8, 0x00, 0xe2, 0xfe,
    0x0f, 0x31, 0xf4,
  ];

  it('under a host clock the TSC follows that clock at 100 MHz, not the instructions retired', () => {
    let ns = 5_000_000_000 * 10 + 1234; // the high dword matters too
    const host: Clock = { kind: 'host', now: () => (ns += 25_000), schedule: () => 0, cancel: () => undefined };
    const vcpu = realModeVcpu(spec({ clock: host }), TWO_READINGS);
    expect(vcpu.run(1000).reason).toBe('hlt');
    const first = vcpu.getRegisters();
    const second = (first.edx * 2 ** 32 + first.eax);
    const earlier = (first.edi * 2 ** 32 + first.esi);
    // Each reading advances the fake clock 25 µs: 2500 ticks apart, whatever ran in between.
    expect(second - earlier).toBe(2500);
    expect(earlier).toBe(Math.floor((5_000_000_000 * 10 + 1234 + 25_000) / 10));
    // Skipped idle time is already in the clock: advanceTsc must not count it twice.
    vcpu.advanceTsc?.(1_000_000);
    vcpu.setRegisters({ ...vcpu.getRegisters(), eip: 0x7c00 });
    expect(vcpu.run(1000).reason).toBe('hlt');
    expect(vcpu.getRegisters().esi + vcpu.getRegisters().edi * 2 ** 32).toBe(second + 2500);
  });

  it('under a virtual clock (or none) the TSC counts retired instructions', () => {
    const virtual: Clock = { kind: 'virtual', now: () => 123_456_789, schedule: () => 0, cancel: () => undefined };
    for (const s of [spec({ clock: virtual }), spec()]) {
      const vcpu = realModeVcpu(s, TWO_READINGS);
      expect(vcpu.run(1000).reason).toBe('hlt');
      const r = vcpu.getRegisters();
      expect(r.eax - r.esi).toBe(204); // the first RDTSC, two MOVs, MOV CX and 200 LOOPs retired in between
      expect(r.esi).toBe(0);
    }
  });

  it('reads the TSC between runs as the instructions retired, counted once', () => {
    const vm = noneStrategy.createVm(spec());
    const vcpu = vm.createVcpu(0);
    const cpu = (vcpu as unknown as { cpu: { readTsc(): number; retired: number } }).cpu;
    vm.memory.writeBytes(0x7c00, Uint8Array.from([0xeb, 0xfe])); // jmp $
    vcpu.setSpecialRegisters({ ...vcpu.getSpecialRegisters(), cs: { selector: 0, base: 0, limit: 0xffff, access: 0x9b } });
    vcpu.setRegisters({ ...vcpu.getRegisters(), eip: 0x7c00 });
    for (const budget of [1, 500, 4321]) vcpu.run(budget);
    expect(cpu.retired).toBe(4822);
    expect(cpu.readTsc()).toBe(4822);
  });

  it('describes itself and is always available', () => {
    expect(noneStrategy.name).toBe('none');
    expect(noneStrategy.unavailableReason()).toBeNull();
  });

  it('a port access late in a run ends the run first, so the device reads the clock of the access', () => {
    // The run loop's clock learns of retired instructions only between runs (hypervisor-type2's
    // account()); a device read in the middle of a long run would see the time the run began.
    let clock = 0;
    let seenAt = -1;
    const s = spec({ io: { read: () => ((seenAt = clock), 0), write: () => undefined } });
    const vm = noneStrategy.createVm(s);
    vm.memory.writeBytes(0x7c00, Uint8Array.from([
      0xb9, 0x2c, 0x01, // mov cx, 300
      0xe2, 0xfe, //       loop $       (300 instructions)
      0xe4, 0x40, //       in al, 0x40  (instruction 302)
      0xf4, //             hlt
    ]));
    const vcpu = vm.createVcpu(0);
    const sregs = vcpu.getSpecialRegisters();
    const real = (selector: number, access: number): SegmentState => ({ selector, base: selector << 4, limit: 0xffff, access });
    vcpu.setSpecialRegisters({ ...sregs, cs: real(0, 0x9b), ds: real(0, 0x93), ss: real(0, 0x93), es: real(0, 0x93) });
    vcpu.setRegisters({ ...vcpu.getRegisters(), eip: 0x7c00, esp: 0x7000 });
    const exits: string[] = [];
    for (;;) {
      const before = vcpu.retired;
      const exit = vcpu.run(1_000_000);
      clock += vcpu.retired - before;
      exits.push(exit.reason);
      if (exit.reason !== 'budget') break;
    }
    expect(exits).toEqual(['budget', 'hlt']);
    expect(seenAt).toBe(301);
    expect(vcpu.retired).toBe(303);
  });

  it('runs real-mode code from reset state set by a loader, counting port I/O by port', () => {
    const s = spec();
    const vm = noneStrategy.createVm(s);
    vm.memory.writeBytes(0x7c00, Uint8Array.from([
      0xba, 0xf8, 0x03, // mov dx, 0x3f8
      0xb0, 0x41, //       mov al, 'A'
      0xee, //             out dx, al
      0xee, //             out dx, al
      0xe4, 0x61, //       in al, 0x61
      0xf4, //             hlt
    ]));
    const vcpu = vm.createVcpu(0);
    const sregs = vcpu.getSpecialRegisters();
    const real = (selector: number, access: number): SegmentState => ({ selector, base: selector << 4, limit: 0xffff, access });
    vcpu.setSpecialRegisters({ ...sregs, cs: real(0, 0x9b), ds: real(0, 0x93), ss: real(0, 0x93), es: real(0, 0x93) });
    vcpu.setRegisters({ ...vcpu.getRegisters(), eip: 0x7c00, esp: 0x7000 });
    const exit = vcpu.run(100);
    expect(exit).toEqual({ reason: 'hlt', interruptsEnabled: false });
    expect(vcpu.getRegisters().eax & 0xff).toBe(0x42);
    expect(s.stats.byPort.get(0x3f8)).toBe(2);
    expect(s.stats.byPort.get(0x61)).toBe(1);
    expect(s.stats.byReason.get('io')).toBe(3);
    expect(vcpu.retired).toBe(6);
  });

  it('runs its vCPUs as the CPU model it is given (80286: real-mode POPF keeps IOPL and NT at 0)', () => {
    const flags = (strategy: VmmStrategy): number => {
      const vm = strategy.createVm(spec());
      vm.memory.writeBytes(0x7c00, Uint8Array.from([0x68, 0x02, 0xf0, 0x9d, 0x9c, 0x58, 0xf4])); // push 0xf002; popf; pushf; pop ax; hlt
      const vcpu = vm.createVcpu(0);
      const real = (selector: number, access: number): SegmentState => ({ selector, base: selector << 4, limit: 0xffff, access });
      const sregs = vcpu.getSpecialRegisters();
      vcpu.setSpecialRegisters({ ...sregs, cs: real(0, 0x9b), ds: real(0, 0x93), ss: real(0, 0x93), es: real(0, 0x93) });
      vcpu.setRegisters({ ...vcpu.getRegisters(), eip: 0x7c00, esp: 0x7000 });
      expect(vcpu.run(100).reason).toBe('hlt');
      return vcpu.getRegisters().eax & 0xffff;
    };
    expect(flags(noneStrategy)).toBe(0x7002);
    expect(flags(createNoneStrategy({ model: '80286' }))).toBe(0x0002);
  });

  it('routes addresses outside RAM to the MMIO bus and counts them', () => {
    const s = spec();
    const vm = noneStrategy.createVm(s);
    vm.memory.writeBytes(0x1000, Uint8Array.from([0xa1, 0x00, 0x00, 0x00, 0xfe, 0xf4])); // mov eax, [0xfe000000]; hlt
    const vcpu = vm.createVcpu(0);
    vcpu.setSpecialRegisters({ ...vcpu.getSpecialRegisters(), cs: FLAT_CODE, ds: FLAT_DATA, ss: FLAT_DATA, es: FLAT_DATA, cr0: 0x11 });
    vcpu.setRegisters({ ...vcpu.getRegisters(), eip: 0x1000, esp: 0x8000 });
    expect(vcpu.run(10).reason).toBe('hlt');
    expect(vcpu.getRegisters().eax).toBe(0x1234);
    expect(s.stats.byReason.get('mmio')).toBe(1);
  });

  it('round-trips registers and special registers: real mode, flat 32-bit and paging', () => {
    const vm = noneStrategy.createVm(spec());
    const vcpu = vm.createVcpu(0);
    const regs = { eax: 1, ecx: 2, edx: 3, ebx: 0xffffffff, esp: 0x7000, ebp: 6, esi: 7, edi: 8, eip: 0x100000, eflags: 0x246 };
    vcpu.setRegisters(regs);
    expect(vcpu.getRegisters()).toEqual(regs);
    const flat: SpecialRegisters = {
      ...vcpu.getSpecialRegisters(), cs: FLAT_CODE, ds: FLAT_DATA, es: FLAT_DATA, fs: FLAT_DATA, gs: FLAT_DATA, ss: FLAT_DATA,
      gdt: { base: 0x500, limit: 0x1f }, idt: { base: 0x600, limit: 0x7ff }, cr0: 0x80000011, cr3: 0x9000, cr4: 0x10, cr2: 0,
    };
    vcpu.setSpecialRegisters(flat);
    expect(vcpu.getSpecialRegisters()).toEqual(flat);
  });

  it('runs with paging on: an identity-mapped 4 MiB page (PSE)', () => {
    const vm = noneStrategy.createVm(spec());
    vm.memory.write32(0x9000, 0x00000083); // PDE 0: 4 MiB page at 0, present, writable, PS
    vm.memory.writeBytes(0x2000, Uint8Array.from([0xc7, 0x05, 0x00, 0x30, 0x00, 0x00, 0x78, 0x56, 0x34, 0x12, 0xf4])); // mov dword [0x3000], 0x12345678
    const vcpu = vm.createVcpu(0);
    vcpu.setSpecialRegisters({ ...vcpu.getSpecialRegisters(), cs: FLAT_CODE, ds: FLAT_DATA, ss: FLAT_DATA, es: FLAT_DATA, cr0: 0x80000011, cr3: 0x9000, cr4: 0x10 });
    vcpu.setRegisters({ ...vcpu.getRegisters(), eip: 0x2000, esp: 0x8000 });
    expect(vcpu.run(10).reason).toBe('hlt');
    expect(vm.memory.read32(0x3000)).toBe(0x12345678);
    expect(vm.memory.read32(0x9000) & 0x20).toBe(0x20); // accessed bit set by the walk
  });

  it('a triple fault is a shutdown exit', () => {
    const vm = noneStrategy.createVm(spec());
    vm.memory.writeBytes(0x1000, Uint8Array.from([0x0f, 0x0b])); // ud2 with an empty IDT
    const vcpu = vm.createVcpu(0);
    vcpu.setSpecialRegisters({ ...vcpu.getSpecialRegisters(), cs: FLAT_CODE, ds: FLAT_DATA, ss: FLAT_DATA, es: FLAT_DATA, idt: { base: 0, limit: 0 }, cr0: 0x11 });
    vcpu.setRegisters({ ...vcpu.getRegisters(), eip: 0x1000, esp: 0x8000 });
    expect(vcpu.run(100)).toEqual({ reason: 'shutdown', cause: 'triple-fault' });
    // The machine stays down.
    expect(vcpu.run(100)).toEqual({ reason: 'shutdown', cause: 'triple-fault' });
  });

  it('polls the interrupt controller and reports irq windows', () => {
    let pending = false;
    const s = spec({ interrupts: { pending: () => pending, acknowledge: () => ((pending = false), 0x08) } });
    const vm = noneStrategy.createVm(s);
    vm.memory.write16(0x08 * 4, 0x3000);
    vm.memory.writeBytes(0x3000, Uint8Array.from([0xb3, 0x55, 0xf4])); // mov bl, 0x55; hlt
    vm.memory.writeBytes(0x1000, Uint8Array.from([0xfb, 0xf4, 0xeb, 0xfe])); // sti; hlt; jmp $
    const vcpu = vm.createVcpu(0);
    vcpu.setRegisters({ ...vcpu.getRegisters(), eip: 0x1000, esp: 0x7000 });
    const sregs = vcpu.getSpecialRegisters();
    vcpu.setSpecialRegisters({ ...sregs, cs: { selector: 0, base: 0, limit: 0xffff, access: 0x9b } });
    expect(vcpu.run(100)).toEqual({ reason: 'hlt', interruptsEnabled: true });
    pending = true;
    expect(vcpu.run(100).reason).toBe('hlt');
    expect(vcpu.getRegisters().ebx & 0xff).toBe(0x55);
    vcpu.requestInterruptWindow(true);
    vcpu.setRegisters({ ...vcpu.getRegisters(), eip: 0x1000 });
    expect(vcpu.run(100).reason).toBe('irq-window');
  });

  it('backs RAM with the buffer the caller provides', () => {
    const shared = new SharedArrayBuffer(1 << 20);
    const vm = noneStrategy.createVm(spec({ ramBacking: () => shared }));
    vm.memory.write32(0x100, 0xcafe);
    expect(new Uint32Array(shared)[0x40]).toBe(0xcafe);
  });
});

describe('strategy none with RAM above 4 GiB', () => {
  const FOUR_GIB = 2 ** 32;
  const PDPT = 0x10000;
  const DIRECTORY = 0x11000;
  const TABLE = 0x12000;

  it('lets a PAE guest store to RAM at 4 GiB + 4 KiB, where DMA finds it', () => {
    const s = spec({ regions: [{ base: 0, size: 1 << 20 }, { base: FOUR_GIB, size: 1 << 30 }] });
    const vm = noneStrategy.createVm(s);
    const mem = vm.memory;
    // Identity-map the first 2 MiB, and linear 0x200000 to physical 4 GiB + 0x1000.
    mem.writeBytes(PDPT, new Uint8Array(32));
    const le64 = (address: number, low: number, high: number) => {
      mem.writeBytes(address, Uint8Array.from([low, low >>> 8, low >>> 16, low >>> 24, high, high >>> 8, high >>> 16, high >>> 24]));
    };
    le64(PDPT, DIRECTORY | 1, 0);
    le64(DIRECTORY, TABLE | 3, 0);
    for (let i = 0; i < 512; i++) le64(TABLE + i * 8, (i << 12) | 3, 0);
    le64(DIRECTORY + 8, 0 | 0x83, 1); // linear 2 MiB..4 MiB → physical 4 GiB..4 GiB + 2 MiB
    // mov dword [0x201000], 0x600df00d; mov eax, [0x201000]; hlt
    mem.writeBytes(0x7c00, Uint8Array.from([
      0xc7, 0x05, 0x00, 0x10, 0x20, 0x00, 0x0d, 0xf0, 0x0d, 0x60, 0xa1, 0x00, 0x10, 0x20, 0x00, 0xf4,
    ]));
    const vcpu = vm.createVcpu(0);
    const sregs = vcpu.getSpecialRegisters();
    vcpu.setSpecialRegisters({
      ...sregs, cs: FLAT_CODE, ds: FLAT_DATA, es: FLAT_DATA, ss: FLAT_DATA,
      cr0: 0x80000011, cr3: PDPT, cr4: 0x20,
    });
    vcpu.setRegisters({ ...vcpu.getRegisters(), eip: 0x7c00, esp: 0x7000 });
    expect(vcpu.run(100).reason).toBe('hlt');
    expect(vcpu.getRegisters().eax >>> 0).toBe(0x600df00d);
    const seen = new Uint8Array(4);
    expect(mem.readBytes(FOUR_GIB + 0x1000, seen)).toBe(true);
    expect([...seen]).toEqual([0x0d, 0xf0, 0x0d, 0x60]);
  });

  it('runs with 3 GiB below the PCI hole: the dword view of RAM reaches its last dword', () => {
    const vm = noneStrategy.createVm(spec({ regions: [{ base: 0, size: 0xa0000 }, { base: 0x100000, size: 0xbff00000 }] }));
    // mov dword [0xbffffffc], 0x12345678; mov eax, [0xbffffffc]; hlt
    vm.memory.writeBytes(0x7c00, Uint8Array.from([
      0xc7, 0x05, 0xfc, 0xff, 0xff, 0xbf, 0x78, 0x56, 0x34, 0x12, 0xa1, 0xfc, 0xff, 0xff, 0xbf, 0xf4,
    ]));
    const vcpu = vm.createVcpu(0);
    vcpu.setSpecialRegisters({ ...vcpu.getSpecialRegisters(), cs: FLAT_CODE, ds: FLAT_DATA, es: FLAT_DATA, ss: FLAT_DATA, cr0: 0x11 });
    vcpu.setRegisters({ ...vcpu.getRegisters(), eip: 0x7c00, esp: 0x7000 });
    expect(vcpu.run(100).reason).toBe('hlt');
    expect(vcpu.getRegisters().eax >>> 0).toBe(0x12345678);
    expect(vm.memory.read32(0xbffffffc)).toBe(0x12345678);
  });

  it('refuses, in one line naming the limit, RAM its 36-bit physical addresses cannot reach', () => {
    const s = spec({ regions: [{ base: 0, size: 1 << 20 }, { base: FOUR_GIB, size: 61 * 2 ** 30 }] });
    expect(() => noneStrategy.createVm(s)).toThrow(/^strategy none maps guest-physical memory below 64 GiB \(MAXPHYADDR 36\); the region at 0x100000000 .* ends above it$/);
  });
});
