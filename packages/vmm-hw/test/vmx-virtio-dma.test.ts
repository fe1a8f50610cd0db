// Hostile DMA under hw:vmx: a guest drives the PC board's virtio-mmio devices (blk, console, rng)
// with descriptors and rings that point anywhere — past RAM, into the device's own MMIO window,
// into the 640 KiB hole, across 4 GiB, above it, with huge lengths, in loops. Each must end in the
// device's error status (DEVICE_NEEDS_RESET) exactly as under `none`: the same registers, RAM, MMIO
// accesses and device state, no host exception, and no device access outside guest RAM.
import { PcBoard, protectedModeEntry, VirtualClock } from '@ringvisor/machine';
import type { AccessSize, GuestMemory, MmioBus, VmmStrategy } from '@ringvisor/vmm-api';
import { noneStrategy } from '@ringvisor/x86-core';
import { describe, expect, it } from 'vitest';
import { vmxStrategy } from '../src/index.js';

const RAM_SIZE = 4 << 20;
const SLOT = 0xd0000000;
const CODE = 0x1000;
const SCRIPT = 0x2000;
const RESULTS = 0x3000;
const DESC = 0x10000;
const AVAIL = 0x11000;
const USED = 0x12000;
const BUF = 0x20000;
const QUEUE_SIZE = 8;
const NEEDS_RESET = 0x40;
const BLK_S_OK = 0;
const BLK_S_IOERR = 1;
// Virtio-mmio registers (virtio 1.1, 4.2.2).
const REG = {
  driverFeatures: 0x20, driverFeaturesSel: 0x24, queueSel: 0x30, queueNum: 0x38, queueReady: 0x44,
  queueNotify: 0x50, interruptStatus: 0x60, status: 0x70, descLow: 0x80, descHigh: 0x84,
  driverLow: 0x90, driverHigh: 0x94, deviceLow: 0xa0, deviceHigh: 0xa4,
};
const F_NEXT = 1;
const F_WRITE = 2;
const F_INDIRECT = 4;

/**
 * The guest: a loop over a script of (op, address, value) dwords at SCRIPT — op 1 writes `value`
 * to `address`, op 2 reads `address` into RAM at `value`, op 0 halts. Every device access is
 * a real MMIO access of the guest (an EPT violation under hw:vmx).
 */
const DRIVER = [
  0xbe, SCRIPT & 0xff, SCRIPT >> 8, 0, 0, // mov esi, SCRIPT
  0xad, 0x89, 0xc1, // next: lodsd; mov ecx, eax (op)
  0xad, 0x89, 0xc3, // lodsd; mov ebx, eax (address)
  0xad, // lodsd (value)
  0xe3, 0x0d, // jecxz done
  0x49, 0x75, 0x04, // dec ecx; jnz read
  0x89, 0x03, 0xeb, 0xf0, // mov [ebx], eax; jmp next
  0x8b, 0x13, 0x89, 0x10, 0xeb, 0xea, // read: mov edx, [ebx]; mov [eax], edx; jmp next
  0xf4, // done: hlt
];

interface Descriptor { address: number; high?: number; length: number; flags: number; next: number }

interface Case {
  name: string;
  device: 'blk' | 'console' | 'rng';
  queue: number;
  descriptors: Descriptor[];
  /** Ring placement (descriptor table, driver area, device area); default the good one. */
  rings?: [number, number, number];
  /**
   * The error the device must count (it goes to DEVICE_NEEDS_RESET), 'ioerr' for a block request
   * it completes with VIRTIO_BLK_S_IOERR, or null for a well-formed request it serves.
   */
  error: string | null;
}

const blkRequest = (data: Partial<Descriptor> = {}, status: Partial<Descriptor> = {}): Descriptor[] => [
  { address: BUF, length: 16, flags: F_NEXT, next: 1 },
  { address: BUF + 0x1000, length: 512, flags: F_WRITE | F_NEXT, next: 2, ...data },
  { address: BUF + 0x2000, length: 1, flags: F_WRITE, next: 0, ...status },
];

const CASES: Case[] = [
  // Controls: the script drives each device to a served request, so the refusals below are the descriptors' doing.
  { name: 'blk: a good read of sector 0', device: 'blk', queue: 0, descriptors: blkRequest(), error: null },
  { name: 'console: a good transmit', device: 'console', queue: 1, descriptors: [{ address: BUF, length: 5, flags: 0, next: 0 }], error: null },
  { name: 'blk: data buffer past the end of RAM', device: 'blk', queue: 0, descriptors: blkRequest({ address: RAM_SIZE + 0x1000 }), error: 'buffer-out-of-range' },
  { name: 'blk: data buffer on its own MMIO registers', device: 'blk', queue: 0, descriptors: blkRequest({ address: SLOT }), error: 'buffer-out-of-range' },
  { name: 'blk: data buffer in the 640 KiB hole', device: 'blk', queue: 0, descriptors: blkRequest({ address: 0xa0000 }), error: 'ioerr' },
  { name: 'blk: data buffer wrapping at 4 GiB', device: 'blk', queue: 0, descriptors: blkRequest({ address: 0xfffff000, length: 0x2000 }), error: 'buffer-out-of-range' },
  { name: 'blk: data buffer above 4 GiB', device: 'blk', queue: 0, descriptors: blkRequest({ address: 0x1000, high: 1 }), error: 'buffer-out-of-range' },
  { name: 'blk: a 4 GiB - 1 length', device: 'blk', queue: 0, descriptors: blkRequest({ length: 0xffffffff }), error: 'buffer-out-of-range' },
  { name: 'blk: status byte in MMIO', device: 'blk', queue: 0, descriptors: blkRequest({}, { address: SLOT + 0x70 }), error: 'buffer-out-of-range' },
  { name: 'blk: a descriptor loop', device: 'blk', queue: 0, descriptors: blkRequest({}, { flags: F_WRITE | F_NEXT, next: 1 }), error: 'chain-too-long' },
  { name: 'blk: a loop back to the header', device: 'blk', queue: 0, descriptors: blkRequest({}, { flags: F_WRITE | F_NEXT, next: 0 }), error: 'readable-after-writable' },
  { name: 'blk: next beyond the queue', device: 'blk', queue: 0, descriptors: blkRequest({ next: 0xffff }), error: 'descriptor-index-out-of-range' },
  { name: 'blk: an indirect table in MMIO', device: 'blk', queue: 0, descriptors: [{ address: SLOT, length: 48, flags: F_INDIRECT, next: 0 }], error: 'buffer-out-of-range' },
  { name: 'blk: descriptor table in MMIO', device: 'blk', queue: 0, descriptors: blkRequest(), rings: [SLOT, AVAIL, USED], error: 'ring-out-of-range' },
  { name: 'blk: used ring past RAM', device: 'blk', queue: 0, descriptors: blkRequest(), rings: [DESC, AVAIL, RAM_SIZE], error: 'ring-out-of-range' },
  { name: 'blk: driver area wrapping at 4 GiB', device: 'blk', queue: 0, descriptors: blkRequest(), rings: [DESC, 0xfffffff8, USED], error: 'ring-out-of-range' },
  { name: 'console: transmit buffer in MMIO', device: 'console', queue: 1, descriptors: [{ address: SLOT + 0x1000, length: 64, flags: 0, next: 0 }], error: 'buffer-out-of-range' },
  { name: 'console: transmit of 4 GiB - 1 bytes', device: 'console', queue: 1, descriptors: [{ address: BUF, length: 0xffffffff, flags: 0, next: 0 }], error: 'buffer-out-of-range' },
  { name: 'console: a loop of two descriptors', device: 'console', queue: 1, descriptors: [{ address: BUF, length: 4, flags: F_NEXT, next: 1 }, { address: BUF, length: 4, flags: F_NEXT, next: 0 }], error: 'chain-too-long' },
  { name: 'rng: buffer past RAM', device: 'rng', queue: 0, descriptors: [{ address: RAM_SIZE - 8, length: 64, flags: F_WRITE, next: 0 }], error: 'buffer-out-of-range' },
  { name: 'rng: buffer over the ROM hole and MMIO', device: 'rng', queue: 0, descriptors: [{ address: 0x9f000, length: 0x100000, flags: F_WRITE, next: 0 }], error: 'buffer-out-of-range' },
  { name: 'rng: buffer at the top of the address space', device: 'rng', queue: 0, descriptors: [{ address: 0xfffffff0, length: 0x20, flags: F_WRITE, next: 0 }], error: 'buffer-out-of-range' },
];

/** The guest's MMIO script for one case: reset, negotiate VERSION_1 and INDIRECT_DESC, set up the queue, notify, read back. */
function script(c: Case): number[] {
  const [desc, avail, used] = c.rings ?? [DESC, AVAIL, USED];
  const w = (reg: number, value: number) => [1, SLOT + reg, value >>> 0];
  const r = (reg: number, slot: number) => [2, SLOT + reg, RESULTS + 4 * slot];
  return [
    ...w(REG.status, 0), ...w(REG.status, 1), ...w(REG.status, 3),
    ...w(REG.driverFeaturesSel, 0), ...w(REG.driverFeatures, 1 << 28),
    ...w(REG.driverFeaturesSel, 1), ...w(REG.driverFeatures, 1),
    ...w(REG.status, 11), ...r(REG.status, 0),
    ...w(REG.queueSel, c.queue), ...w(REG.queueNum, QUEUE_SIZE),
    ...w(REG.descLow, desc), ...w(REG.descHigh, 0), ...w(REG.driverLow, avail), ...w(REG.driverHigh, 0),
    ...w(REG.deviceLow, used), ...w(REG.deviceHigh, 0), ...w(REG.queueReady, 1), ...r(REG.queueReady, 1),
    ...w(REG.status, 15), ...w(REG.queueNotify, c.queue),
    ...r(REG.status, 2), ...r(REG.interruptStatus, 3),
    0, 0, 0,
  ];
}

/** Guest memory as the devices reach it, recording every access that is not wholly inside guest RAM. */
class CheckedMemory implements GuestMemory {
  readonly outside: string[] = [];
  constructor(private readonly memory: GuestMemory, private readonly ram: readonly { base: number; size: number }[]) {}
  get ramEnd(): number { return this.memory.ramEnd; }
  private check(what: string, address: number, length: number): void {
    if (!this.ram.some((r) => address >= r.base && address + length <= r.base + r.size)) this.outside.push(`${what} ${address.toString(16)}+${length}`);
  }
  read8(a: number): number { this.check('read8', a, 1); return this.memory.read8(a); }
  read16(a: number): number { this.check('read16', a, 2); return this.memory.read16(a); }
  read32(a: number): number { this.check('read32', a, 4); return this.memory.read32(a); }
  write8(a: number, v: number): void { this.check('write8', a, 1); this.memory.write8(a, v); }
  write16(a: number, v: number): void { this.check('write16', a, 2); this.memory.write16(a, v); }
  write32(a: number, v: number): void { this.check('write32', a, 4); this.memory.write32(a, v); }
  readBytes(a: number, into: Uint8Array): boolean {
    const ok = this.memory.readBytes(a, into);
    if (ok) this.check('readBytes', a, into.length);
    return ok;
  }
  writeBytes(a: number, from: Uint8Array): boolean {
    const ok = this.memory.writeBytes(a, from);
    if (ok) this.check('writeBytes', a, from.length);
    return ok;
  }
  view(a: number, length: number): Uint8Array | null {
    const v = this.memory.view(a, length);
    if (v !== null) this.check('view', a, length);
    return v;
  }
  notifyWrite(a: number, length: number): void { this.memory.notifyWrite(a, length); }
}

/** The board's MMIO bus, recording each access the guest makes. */
class RecordingBus implements MmioBus {
  readonly log: string[] = [];
  constructor(private readonly bus: MmioBus) {}
  read(address: number, size: AccessSize): number {
    const value = this.bus.read(address, size);
    this.log.push(`r ${address.toString(16)}/${size}=${value >>> 0}`);
    return value;
  }
  write(address: number, size: AccessSize, value: number): void {
    this.log.push(`w ${address.toString(16)}/${size}=${value >>> 0}`);
    this.bus.write(address, size, value);
  }
}

function run(strategy: VmmStrategy, c: Case) {
  const disk = new Uint8Array(1 << 20).map((_, i) => i * 7);
  const output: number[] = [];
  const board = new PcBoard({
    ramSize: RAM_SIZE, clock: new VirtualClock(), serial: { write: (b) => b.length },
    virtio: [c.device === 'blk'
      ? { kind: 'blk', backend: {
        size: disk.length, readOnly: false, flush: () => undefined, discard: () => undefined,
        read: (offset, into) => into.set(disk.subarray(offset, offset + into.length)),
        write: (offset, from) => disk.set(from, offset),
      } }
      : c.device === 'console' ? { kind: 'console', backend: { write: (b) => (output.push(...b), b.length) } } : { kind: 'rng' }],
  });
  const mmio = new RecordingBus(board.mmio);
  const vm = strategy.createVm({ ...board.vmSpec(), mmio });
  const memory = new CheckedMemory(vm.memory, board.memoryMap.regions.filter((r) => !r.rom));
  board.attachMemory(memory);
  const m = vm.memory;
  m.writeBytes(CODE, Uint8Array.from(DRIVER));
  script(c).forEach((dword, i) => m.write32(SCRIPT + 4 * i, dword));
  c.descriptors.forEach((d, i) => {
    m.write32(DESC + 16 * i, d.address);
    m.write32(DESC + 16 * i + 4, d.high ?? 0);
    m.write32(DESC + 16 * i + 8, d.length);
    m.write16(DESC + 16 * i + 12, d.flags);
    m.write16(DESC + 16 * i + 14, d.next);
  });
  // blk: the header is IN (type 0) of sector 0; the status byte starts as neither OK nor IOERR.
  m.write8(BUF + 0x2000, 0xff);
  if (c.device === 'console') m.writeBytes(BUF, new TextEncoder().encode('hello'));
  m.write16(AVAIL + 2, 1); // one chain, head 0
  const vcpu = vm.createVcpu(0);
  const entry = protectedModeEntry(CODE, 0x10, 0x18, { base: 0, limit: 0 });
  vcpu.setSpecialRegisters(entry.sregs);
  vcpu.setRegisters({ ...entry.regs, esp: 0x9000 });
  const exits: string[] = [];
  for (let i = 0; i < 50; i++) {
    const exit = vcpu.run(10_000);
    exits.push(exit.reason);
    if (exit.reason !== 'budget') break;
  }
  const ram = new Uint8Array(0xa0000);
  m.readBytes(0, ram);
  const transport = board.virtioTransports[0];
  const result = {
    exits, regs: vcpu.getRegisters(), ram, log: mmio.log, outside: memory.outside, output, disk,
    status: transport.deviceStatus, errors: transport.errors.total, last: transport.errors.last?.kind ?? null,
  };
  vm.destroy();
  return result;
}

describe('hw:vmx against none: virtio descriptors that point anywhere', () => {
  for (const c of CASES) {
    it(c.name, () => {
      const none = run(noneStrategy, c);
      const vmx = run(vmxStrategy, c);
      expect(none.exits.at(-1)).toBe('hlt');
      expect(none.outside).toEqual([]);
      if (c.error === null || c.error === 'ioerr') {
        expect(none.status).toBe(15);
        expect(none.errors).toBe(0);
        expect(none.ram[USED + 2]).toBe(1);
        if (c.device === 'blk') expect(none.ram[BUF + 0x2000]).toBe(c.error === null ? BLK_S_OK : BLK_S_IOERR);
        if (c.device === 'blk' && c.error === null) expect(none.ram.subarray(BUF + 0x1000, BUF + 0x1200)).toEqual(none.disk.subarray(0, 512));
      } else {
        expect(none.status & NEEDS_RESET).toBe(NEEDS_RESET);
        expect(none.last).toBe(c.error);
        // The guest read the error status back through MMIO.
        expect(none.ram[RESULTS + 8] & NEEDS_RESET).toBe(NEEDS_RESET);
      }
      expect(vmx.exits).toEqual(none.exits);
      expect(vmx.regs).toEqual(none.regs);
      expect(vmx.log).toEqual(none.log);
      expect(vmx.outside).toEqual([]);
      expect([vmx.status, vmx.errors, vmx.last]).toEqual([none.status, none.errors, none.last]);
      expect(vmx.output).toEqual(none.output);
      expect(Buffer.compare(Buffer.from(vmx.disk), Buffer.from(none.disk))).toBe(0);
      expect(Buffer.compare(Buffer.from(vmx.ram), Buffer.from(none.ram)), 'RAM').toBe(0);
    });
  }
});
