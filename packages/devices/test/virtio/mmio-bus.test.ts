// Several virtio-mmio devices behind the package's MMIO bus, each in its own page, reached by
// guest-physical address the way a vCPU's MMIO exits reach them.
import { describe, expect, it } from 'vitest';
import type { MmioHandler } from '@ringvisor/vmm-api';
import {
  MemoryBlockBackend, MmioDispatchBus, VIRTIO_MMIO_WINDOW_SIZE, VirtioBlock, VirtioMmioTransport, VirtioRng,
} from '../../src/index.js';
import { IrqRecorder } from '../support/irq.js';
import { BASIC_FEATURES, TestDriver } from './support/driver.js';
import { expectBytes } from './support/bytes.js';
import { TestGuestRam } from './support/guest-ram.js';

const BASE = 0xd000_0000;

/** The driver's view of the device at `base`: guest-physical accesses through the bus. */
function at(bus: MmioDispatchBus, base: number): MmioHandler {
  return {
    mmioRead: (offset, size) => bus.read(base + offset, size),
    mmioWrite: (offset, size, value) => bus.write(base + offset, size, value),
  };
}

describe('virtio-mmio devices on the MMIO bus', () => {
  it('answers at each window with its own device and reads 0 past the config space', () => {
    const ram = new TestGuestRam(1 << 20);
    const bus = new MmioDispatchBus();
    const disk = new MemoryBlockBackend({ size: 4096 });
    bus.register(BASE, VIRTIO_MMIO_WINDOW_SIZE, new VirtioMmioTransport(new VirtioBlock({ backend: disk }), { memory: ram, irq: new IrqRecorder() }));
    bus.register(BASE + VIRTIO_MMIO_WINDOW_SIZE, VIRTIO_MMIO_WINDOW_SIZE, new VirtioMmioTransport(new VirtioRng(), { memory: ram, irq: new IrqRecorder() }));
    expect(bus.read(BASE, 4)).toBe(0x74726976);
    expect(bus.read(BASE + 0x008, 4)).toBe(2);
    expect(bus.read(BASE + 0x1000 + 0x008, 4)).toBe(4);
    expect(bus.read(BASE + 0xffc, 4)).toBe(0);
    expect(bus.unclaimedReads).toBe(0);
  });

  it('serves a block write and read issued through guest-physical addresses', () => {
    const ram = new TestGuestRam(1 << 20);
    const bus = new MmioDispatchBus();
    const disk = new MemoryBlockBackend({ size: 4096 });
    const irq = new IrqRecorder();
    bus.register(BASE, VIRTIO_MMIO_WINDOW_SIZE, new VirtioMmioTransport(new VirtioBlock({ backend: disk }), { memory: ram, irq }));
    const driver = new TestDriver(at(bus, BASE), ram);
    const [queue] = driver.init(1, { accept: BASIC_FEATURES });
    const header = new Uint8Array(16);
    header[0] = 1; // VIRTIO_BLK_T_OUT
    header[8] = 2; // sector 2
    const data = new Uint8Array(512).fill(0x5a);
    queue.submit([header, data], [1]);
    queue.kick();
    expect(queue.takeUsed()).toHaveLength(1);
    expect(irq.level).toBe(true);
    expectBytes(disk.data.subarray(1024, 1536), data);
  });
});
