import { BufferSerialBackend } from '@ringvisor/devices';
import { describe, expect, it } from 'vitest';
import { PcBoard, VirtualClock } from '../src/index.js';
import { TestMemory } from './support/test-memory.js';

const MiB = 1024 * 1024;

function board(virtio: PcBoard['options']['virtio'] = []): { board: PcBoard; clock: VirtualClock; serial: BufferSerialBackend } {
  const clock = new VirtualClock();
  const serial = new BufferSerialBackend();
  return { board: new PcBoard({ ramSize: 16 * MiB, clock, serial, virtio }), clock, serial };
}

/** What a guest does first: ICW1..ICW4 to both 8259s, vectors from `base`, everything unmasked. */
function initPic(io: PcBoard['io'], base: number): void {
  io.write(0x20, 1, 0x11);
  io.write(0xa0, 1, 0x11);
  io.write(0x21, 1, base);
  io.write(0xa1, 1, base + 8);
  io.write(0x21, 1, 0x04);
  io.write(0xa1, 1, 0x02);
  io.write(0x21, 1, 0x01);
  io.write(0xa1, 1, 0x01);
  io.write(0x21, 1, 0x00);
  io.write(0xa1, 1, 0x00);
}

describe('PC board wiring', () => {
  it('sends a byte written to 0x3f8 to the COM1 backend', () => {
    const { board: pc, serial } = board();
    pc.io.write(0x3fb, 1, 0x03); // LCR: 8 data bits (power-on is 5)
    for (const c of 'hi') pc.io.write(0x3f8, 1, c.charCodeAt(0));
    expect(serial.text()).toBe('hi');
    expect(pc.io.read(0x3fd, 1) & 0x20).toBe(0x20); // THRE: ready for the next byte
  });

  it('delivers PIT IRQ 0 through the PIC as vector base + 0', () => {
    const { board: pc, clock } = board();
    initPic(pc.io, 0x08); // the BIOS layout: IRQ 0-7 at vectors 0x08-0x0f
    pc.io.write(0x43, 1, 0x34); // counter 0, lobyte/hibyte, mode 2 (rate generator)
    pc.io.write(0x40, 1, 1193 & 0xff);
    pc.io.write(0x40, 1, 1193 >> 8);
    expect(pc.pic.pending()).toBe(false);
    const deadline = clock.nextDeadline();
    expect(deadline).not.toBeNull();
    clock.advanceTo(deadline as number);
    clock.runDue();
    expect(pc.pic.pending()).toBe(true);
    expect(pc.pic.acknowledge()).toBe(0x08);
  });

  it('raises COM1 receive interrupts on IRQ 4 when the guest enables them', () => {
    const { board: pc } = board();
    initPic(pc.io, 0x08);
    pc.io.write(0x3fb, 1, 0x03); // LCR: 8 data bits
    pc.io.write(0x3fc, 1, 0x0b); // MCR: DTR, RTS, OUT2
    pc.io.write(0x3f9, 1, 0x01); // IER: received data available
    pc.com1.input(Uint8Array.of(0x41));
    expect(pc.pic.pending()).toBe(true);
    expect(pc.pic.acknowledge()).toBe(0x08 + 4);
    expect(pc.io.read(0x3f8, 1)).toBe(0x41);
  });

  it('puts the memory map, buses, PIC, counters and clock in the VmSpec', () => {
    const { board: pc } = board();
    const spec = pc.vmSpec();
    expect(spec.clock).toBe(pc.options.clock);
    expect(spec.regions).toBe(pc.memoryMap.regions);
    expect(spec.io).toBe(pc.io);
    expect(spec.interrupts).toBe(pc.pic);
    spec.stats.count('io', 0x3f8);
    expect(pc.stats.byPort.get(0x3f8)).toBe(1);
  });

  it('maps virtio-mmio slots at 0xd0000000 once guest memory is attached', () => {
    const { board: pc } = board([{ kind: 'rng' }, { kind: 'rng' }]);
    expect(pc.mmio.read(0xd0000000, 4)).toBe(0xffffffff);
    pc.attachMemory(new TestMemory(pc.memoryMap.regions));
    expect(pc.mmio.read(0xd0000000, 4)).toBe(0x74726976); // "virt"
    expect(pc.mmio.read(0xd0001000 + 0x008, 4)).toBe(4); // DeviceID: entropy
    expect(pc.virtioTransports).toHaveLength(2);
    expect(() => pc.attachMemory(new TestMemory(pc.memoryMap.regions))).toThrow(/twice/);
  });

  it('gives the same virtio-rng bytes for the same seed, through the guest-visible registers', () => {
    /** Drives slot 0 as a driver would: one 32-byte device-writable buffer, notified; the bytes it got. */
    const draw = (seed?: number): number[] => {
      const { board: pc } = board([{ kind: 'rng', seed }]);
      const memory = new TestMemory(pc.memoryMap.regions);
      pc.attachMemory(memory);
      const reg = (offset: number, value: number) => pc.mmio.write(0xd0000000 + offset, 4, value);
      const [DESC, AVAIL, USED, BUFFER] = [0x10000, 0x11000, 0x12000, 0x20000];
      reg(0x070, 1 | 2); // ACKNOWLEDGE | DRIVER
      reg(0x024, 1);
      reg(0x020, 1); // VIRTIO_F_VERSION_1 (feature bit 32)
      reg(0x070, 1 | 2 | 8); // FEATURES_OK
      reg(0x030, 0);
      reg(0x038, 4);
      reg(0x080, DESC);
      reg(0x090, AVAIL);
      reg(0x0a0, USED);
      reg(0x044, 1);
      reg(0x070, 1 | 2 | 4 | 8); // DRIVER_OK
      const desc = new DataView(memory.view(DESC, 16)!.buffer, memory.view(DESC, 16)!.byteOffset, 16);
      desc.setUint32(0, BUFFER, true);
      desc.setUint32(8, 32, true);
      desc.setUint16(12, 2, true); // VIRTQ_DESC_F_WRITE
      memory.view(AVAIL, 6)!.set([0, 0, 1, 0, 0, 0]); // idx 1, ring[0] = descriptor 0
      reg(0x050, 0);
      expect(memory.view(USED + 2, 1)![0]).toBe(1);
      return [...memory.view(BUFFER, 32)!];
    };
    expect(draw(42)).toEqual(draw(42));
    expect(draw(43)).not.toEqual(draw(42));
    expect(draw()).not.toEqual(draw());
  });

  it('starts the RTC at a fixed time under a virtual clock and reports memory in CMOS', () => {
    const { board: pc } = board();
    const cmos = (index: number): number => {
      pc.io.write(0x70, 1, index);
      return pc.io.read(0x71, 1);
    };
    cmos(0x0b);
    expect([cmos(0x09), cmos(0x08), cmos(0x07)]).toEqual([0x26, 0x01, 0x01]); // BCD 26-01-01
    const above16M = cmos(0x34) | (cmos(0x35) << 8);
    const extended = cmos(0x17) | (cmos(0x18) << 8);
    expect(above16M === 0 ? 1024 + extended : 16 * 1024 + above16M * 64).toBe(16 * 1024);
  });

  it('raises the RTC periodic interrupt on IRQ 8 (vector base + 8 through the slave)', () => {
    const { board: pc, clock } = board();
    initPic(pc.io, 0x20);
    pc.io.write(0x70, 1, 0x0b);
    pc.io.write(0x71, 1, 0x42); // PIE, 24-hour
    for (let i = 0; i < 4 && !pc.pic.pending(); i++) {
      clock.advanceTo(clock.nextDeadline() as number);
      clock.runDue();
    }
    expect(pc.pic.acknowledge()).toBe(0x28);
  });

  it('turns an exit-port write into a shutdown request with QEMU isa-debug-exit status', () => {
    const requests: unknown[] = [];
    const pc = new PcBoard({
      ramSize: 16 * MiB, clock: new VirtualClock(), serial: new BufferSerialBackend(),
      onShutdownRequest: (request) => requests.push(request),
    });
    expect(pc.shutdownRequest).toBeNull();
    pc.io.write(0xf4, 1, 0);
    expect(pc.shutdownRequest).toEqual({ cause: 'exit-port', status: 1 });
    pc.io.write(0xf4, 4, 3);
    expect(requests).toEqual([{ cause: 'exit-port', status: 1 }, { cause: 'exit-port', status: 7 }]);
    expect(pc.shutdownRequest).toEqual({ cause: 'exit-port', status: 1 }); // the first one stands
  });

  it('turns an i8042 reset pulse into a reset request', () => {
    const { board: pc } = board();
    pc.io.write(0x64, 1, 0xfe); // pulse output line 0: CPU reset
    expect(pc.shutdownRequest).toEqual({ cause: 'reset', source: 'i8042' });
  });

  it('tracks A20 through the keyboard controller and port 0x92', () => {
    const changes: boolean[] = [];
    const pc = new PcBoard({ ramSize: 16 * MiB, clock: new VirtualClock(), serial: new BufferSerialBackend(), onA20: (on) => changes.push(on) });
    expect(pc.a20).toBe(true); // the controller's output port powers up with A20 on
    pc.io.write(0x64, 1, 0xdd); // disable A20
    expect(pc.a20).toBe(false);
    pc.io.write(0x92, 1, 0x02); // fast A20
    expect(pc.a20).toBe(true);
    expect(changes).toEqual([false, true]);
  });

  it('reports A20 only when the ORed gate changes, not every write to one of its two sources', () => {
    const changes: boolean[] = [];
    const pc = new PcBoard({ ramSize: 16 * MiB, clock: new VirtualClock(), serial: new BufferSerialBackend(), onA20: (on) => changes.push(on) });
    pc.io.write(0x92, 1, 0x02); // fast A20 on while the controller already has it on
    pc.io.write(0x92, 1, 0x00); // and off again: the controller still holds the gate open
    pc.io.write(0x64, 1, 0xdf); // the controller re-enables what is enabled
    expect(changes).toEqual([]);
    pc.io.write(0x64, 1, 0xdd); // now the gate closes
    pc.io.write(0x64, 1, 0xdd);
    expect(changes).toEqual([false]);
    expect(pc.a20).toBe(false);
  });

  it('latches POST codes written to port 0x80', () => {
    const { board: pc } = board();
    expect(pc.postCode).toBeNull();
    pc.io.write(0x80, 1, 0x42);
    expect(pc.postCode).toBe(0x42);
  });
});
