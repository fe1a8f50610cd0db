// Test fixtures: the skip-with-reason helper, recording buses, a fake interrupt controller, and a
// tiny "machine" that loads one of the guests/ binaries at 1000h.
import { readFileSync } from 'node:fs';
import { describe } from 'vitest';
import type {
  AccessSize, ExitReason, ExitStats, GuestMemory, InterruptController, IoBus, MemoryRegionSpec, MmioBus,
  SegmentState, SpecialRegisters, Vcpu, Vm,
} from '@ringvisor/vmm-api';
import { hwStrategy } from '../src/index.js';

/** Why /dev/kvm cannot be used here (printed once), or null. */
export const kvmUnavailable: string | null = hwStrategy.unavailableReason();
if (kvmUnavailable) console.log(`[vmm-hw] skipping KVM tests: ${kvmUnavailable}`);

/** describe() for suites that need /dev/kvm: skipped, with the printed reason, where it cannot be opened. */
export function describeKvm(name: string, body: () => void): void {
  describe.skipIf(kvmUnavailable !== null)(name, body);
}

export const LOAD_ADDRESS = 0x1000;

export function guestBytes(name: string): Uint8Array {
  return new Uint8Array(readFileSync(new URL(`./guests/${name}.bin`, import.meta.url)));
}

export class Stats implements ExitStats {
  readonly byReason = new Map<ExitReason, number>();
  readonly byPort = new Map<number, number>();
  count(reason: ExitReason, port?: number): void {
    this.byReason.set(reason, (this.byReason.get(reason) ?? 0) + 1);
    if (port !== undefined) this.byPort.set(port, (this.byPort.get(port) ?? 0) + 1);
  }
}

export interface Access { port?: number; address?: number; size: AccessSize; value: number; write: boolean }

/** A port bus that records every access and answers reads from `answers` (all ones otherwise). */
export class RecordingIo implements IoBus {
  readonly log: Access[] = [];
  constructor(readonly answers: Record<number, number> = {}) {}
  read(port: number, size: AccessSize): number {
    const value = this.answers[port] ?? (size === 4 ? 0xffff_ffff : (1 << (8 * size)) - 1);
    this.log.push({ port, size, value, write: false });
    return value;
  }
  write(port: number, size: AccessSize, value: number): void {
    this.log.push({ port, size, value, write: true });
  }
  writes(port: number): number[] {
    return this.log.filter((a) => a.write && a.port === port).map((a) => a.value);
  }
}

export class RecordingMmio implements MmioBus {
  readonly log: Access[] = [];
  constructor(readonly answers: Record<number, number> = {}) {}
  read(address: number, size: AccessSize): number {
    const value = this.answers[address] ?? 0;
    this.log.push({ address, size, value, write: false });
    return value;
  }
  write(address: number, size: AccessSize, value: number): void {
    this.log.push({ address, size, value, write: true });
  }
}

/** An 8259 stand-in: raise(vector) asserts INTR until the vCPU acknowledges it. */
export class FakePic implements InterruptController {
  private queue: number[] = [];
  acknowledged: number[] = [];
  raise(vector: number): void { this.queue.push(vector); }
  pending(): boolean { return this.queue.length > 0; }
  acknowledge(): number {
    const v = this.queue.shift() ?? 0xff;
    this.acknowledged.push(v);
    return v;
  }
}

export interface TestMachine {
  vm: Vm; vcpu: Vcpu; io: RecordingIo; mmio: RecordingMmio; pic: FakePic; stats: Stats;
}

/** 1 MiB of RAM at 0 with `guest` at 1000h and a vCPU in real mode at 0000:1000. */
export function machine(guest: string, opts: { io?: RecordingIo; mmio?: RecordingMmio; regions?: MemoryRegionSpec[] } = {}): TestMachine {
  const io = opts.io ?? new RecordingIo();
  const mmio = opts.mmio ?? new RecordingMmio();
  const pic = new FakePic();
  const stats = new Stats();
  const vm = hwStrategy.createVm({ regions: opts.regions ?? [{ base: 0, size: 0x100000 }], io, mmio, interrupts: pic, stats });
  if (!vm.memory.writeBytes(LOAD_ADDRESS, guestBytes(guest))) throw new Error('guest does not fit in RAM');
  const vcpu = vm.createVcpu(0);
  enterRealMode(vcpu, LOAD_ADDRESS);
  return { vm, vcpu, io, mmio, pic, stats };
}

const realSegment = (access: number): SegmentState => ({ selector: 0, base: 0, limit: 0xffff, access });

export function enterRealMode(vcpu: Vcpu, ip: number): void {
  const s = vcpu.getSpecialRegisters();
  const data = realSegment(0x93);
  vcpu.setSpecialRegisters({ ...s, cs: realSegment(0x9b), ds: data, es: data, fs: data, gs: data, ss: data });
  vcpu.setRegisters({ ...vcpu.getRegisters(), eip: ip, esp: 0x8000, eflags: 0x2 });
}

/** Flat 4 GiB segments as Linux's boot protocol wants them: code 10h, data 18h, busy 32-bit TSS. */
export function flat32(base: SpecialRegisters, cr0: number, cr3 = 0, cr4 = 0): SpecialRegisters {
  const data: SegmentState = { selector: 0x18, base: 0, limit: 0xffff_ffff, access: 0xc093 };
  return {
    ...base,
    cs: { selector: 0x10, base: 0, limit: 0xffff_ffff, access: 0xc09b },
    ds: data, es: data, fs: data, gs: data, ss: data,
    tr: { selector: 0, base: 0, limit: 0xffff, access: 0x8b },
    ldt: { selector: 0, base: 0, limit: 0, access: 1 << 16 },
    cr0, cr3, cr4,
  };
}

/**
 * The CPU state of the Linux 64-bit boot protocol (as Firecracker sets it up): the first 1 GiB
 * identity-mapped with 2 MiB pages (PML4 9000h -> PDPT a000h -> PD b000h), a GDT at 500h with
 * 64-bit code 10h and data 18h, CR0 PE|ET|PG, CR4 PAE, EFER LME|LMA.
 */
export function longMode64(mem: GuestMemory, base: SpecialRegisters): SpecialRegisters {
  const PML4 = 0x9000, PDPT = 0xa000, PD = 0xb000, GDT = 0x500;
  mem.write32(PML4, PDPT | 0x3);
  mem.write32(PDPT, PD | 0x3);
  for (let i = 0; i < 512; i++) { mem.write32(PD + 8 * i, (i << 21) | 0x83); mem.write32(PD + 8 * i + 4, 0); }
  const descriptors = [[0, 0], [0, 0], [0xffff, 0x00af9b00], [0xffff, 0x00cf9300]];
  descriptors.forEach(([lo, hi], i) => { mem.write32(GDT + 8 * i, lo); mem.write32(GDT + 8 * i + 4, hi); });
  const data: SegmentState = { selector: 0x18, base: 0, limit: 0xffff_ffff, access: 0xc093 };
  return {
    ...base,
    cs: { selector: 0x10, base: 0, limit: 0xffff_ffff, access: 0xa09b }, // L=1, D=0, G=1
    ds: data, es: data, fs: data, gs: data, ss: data,
    tr: { selector: 0, base: 0, limit: 0xffff, access: 0x8b },
    ldt: { selector: 0, base: 0, limit: 0, access: 1 << 16 },
    gdt: { base: GDT, limit: descriptors.length * 8 - 1 },
    idt: { base: 0, limit: 0 },
    cr0: 0x8000_0011, cr3: PML4, cr4: 1 << 5, efer: (1 << 8) | (1 << 10),
  };
}

/** Runs until an exit other than 'budget', at most `tries` times. */
export function runToExit(vcpu: Vcpu, tries = 1000): ReturnType<Vcpu['run']> {
  for (let i = 0; i < tries; i++) {
    const exit = vcpu.run(10_000_000);
    if (exit.reason !== 'budget') return exit;
  }
  throw new Error(`guest did not exit after ${tries} budgets`);
}
