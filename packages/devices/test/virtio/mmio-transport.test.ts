// The virtio-mmio register protocol (spec section 4.2), driven the way Linux's virtio_mmio.c does.
import { describe, expect, it } from 'vitest';
import {
  MemoryBlockBackend, VIRTIO_F_EVENT_IDX, VIRTIO_F_INDIRECT_DESC, VIRTIO_F_VERSION_1, VIRTIO_STATUS_ACKNOWLEDGE,
  VIRTIO_STATUS_DRIVER, VIRTIO_STATUS_DRIVER_OK, VIRTIO_STATUS_FEATURES_OK, VIRTIO_STATUS_NEEDS_RESET,
  VirtioBlock, VirtioMmioReg as Reg, VirtioMmioTransport, VirtioRng,
} from '../../src/virtio/index.js';
import { IrqRecorder } from '../support/irq.js';
import { BASIC_FEATURES, TestDriver, bit } from './support/driver.js';
import { TestGuestRam } from './support/guest-ram.js';

function rngSetup(options: { eventIdx?: boolean; indirectDescriptors?: boolean } = {}) {
  const ram = new TestGuestRam(1 << 20);
  const irq = new IrqRecorder();
  const rng = new VirtioRng({ queueSize: 8 });
  const transport = new VirtioMmioTransport(rng, { memory: ram, irq, ...options });
  return { ram, irq, rng, transport, driver: new TestDriver(transport, ram) };
}

function blkSetup() {
  const ram = new TestGuestRam(1 << 20);
  const irq = new IrqRecorder();
  const backend = new MemoryBlockBackend({ size: 8 * 512 });
  const block = new VirtioBlock({ backend, queueSize: 8 });
  const transport = new VirtioMmioTransport(block, { memory: ram, irq });
  return { ram, irq, backend, block, transport, driver: new TestDriver(transport, ram) };
}

const NEEDS_RESET = VIRTIO_STATUS_NEEDS_RESET;

describe('virtio-mmio identification', () => {
  it('reads magic "virt", version 2, the device ID and a vendor ID', () => {
    const { driver } = rngSetup();
    expect(driver.read(Reg.MagicValue)).toBe(0x74726976);
    expect(driver.read(Reg.Version)).toBe(2);
    expect(driver.read(Reg.DeviceID)).toBe(4);
    expect(driver.read(Reg.VendorID)).not.toBe(0);
  });

  it('offers VERSION_1, INDIRECT_DESC and EVENT_IDX in feature words 0 and 1, nothing above', () => {
    const { driver } = rngSetup();
    expect(driver.deviceFeatures()).toBe(bit(VIRTIO_F_VERSION_1) | bit(VIRTIO_F_INDIRECT_DESC) | bit(VIRTIO_F_EVENT_IDX));
    driver.write(Reg.DeviceFeaturesSel, 2);
    expect(driver.read(Reg.DeviceFeatures)).toBe(0);
  });

  it('leaves out the ring features the VMM turned off', () => {
    const { driver } = rngSetup({ eventIdx: false, indirectDescriptors: false });
    expect(driver.deviceFeatures()).toBe(bit(VIRTIO_F_VERSION_1));
  });

  it('reads registers only with aligned 32-bit accesses; others read 0 and writes are dropped', () => {
    const { transport, driver } = rngSetup();
    expect(transport.mmioRead(Reg.MagicValue, 2)).toBe(0);
    expect(transport.mmioRead(Reg.MagicValue + 1, 4)).toBe(0);
    transport.mmioWrite(Reg.Status, 1, VIRTIO_STATUS_ACKNOWLEDGE);
    expect(driver.status).toBe(0);
    expect(driver.read(0x0c0)).toBe(0); // not a register in this layout
  });
});

describe('feature negotiation and the status state machine', () => {
  it('keeps FEATURES_OK for an acceptable subset and records the negotiated features', () => {
    const { driver, transport } = rngSetup();
    expect(driver.negotiate(bit(VIRTIO_F_VERSION_1))).toBe(true);
    expect(driver.status).toBe(VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK);
    expect(transport.features).toBe(bit(VIRTIO_F_VERSION_1));
  });

  it('refuses FEATURES_OK when the driver accepts a feature that was not offered', () => {
    const { driver, transport } = rngSetup();
    expect(driver.negotiate(bit(VIRTIO_F_VERSION_1) | bit(5))).toBe(false);
    expect(driver.negotiate(bit(VIRTIO_F_VERSION_1) | bit(40))).toBe(false);
    expect(transport.errors.count('features-rejected')).toBe(2);
    expect(driver.status & NEEDS_RESET).toBe(0);
    expect(transport.features).toBe(0n);
  });

  it('refuses FEATURES_OK without VIRTIO_F_VERSION_1 (a legacy driver)', () => {
    const { driver, transport } = rngSetup();
    expect(driver.negotiate(bit(VIRTIO_F_INDIRECT_DESC))).toBe(false);
    expect(transport.errors.last?.detail).toMatch(/VERSION_1/);
  });

  it('treats DriverFeatures written after FEATURES_OK as a protocol error', () => {
    const { driver, transport } = rngSetup();
    driver.negotiate(BASIC_FEATURES);
    driver.writeDriverFeatures(BASIC_FEATURES | bit(VIRTIO_F_EVENT_IDX));
    expect(driver.status & NEEDS_RESET).toBe(NEEDS_RESET);
    expect(transport.features).toBe(BASIC_FEATURES);
    expect(transport.errors.count('status-protocol')).toBe(2); // one per feature word
  });

  it('refuses DRIVER_OK before FEATURES_OK with NEEDS_RESET', () => {
    const { driver, transport } = rngSetup();
    driver.addStatus(VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
    driver.addStatus(VIRTIO_STATUS_DRIVER_OK);
    expect(driver.status).toBe(VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | NEEDS_RESET);
    expect(transport.errors.count('status-protocol')).toBe(1);
  });

  it('refuses a status write that clears bits other than by reset', () => {
    const { driver, transport } = rngSetup();
    driver.negotiate(BASIC_FEATURES);
    driver.write(Reg.Status, VIRTIO_STATUS_ACKNOWLEDGE);
    expect(driver.status & NEEDS_RESET).toBe(NEEDS_RESET);
    expect(driver.status & VIRTIO_STATUS_FEATURES_OK).toBe(VIRTIO_STATUS_FEATURES_OK);
    expect(transport.errors.count('status-protocol')).toBe(1);
  });

  it('announces NEEDS_RESET with a configuration-change interrupt once the driver is running', () => {
    const { driver, irq } = rngSetup();
    driver.init(1);
    driver.write(Reg.QueueNotify, 0x1_0000); // no such queue (not queue 0 in disguise)
    expect(driver.status & NEEDS_RESET).toBe(NEEDS_RESET);
    expect(irq.level).toBe(true);
    expect(driver.takeInterrupt()).toBe(2);
    expect(irq.level).toBe(false);
  });

  it('raises the configuration interrupt at DRIVER_OK for an error made earlier', () => {
    const { driver, irq } = rngSetup();
    driver.negotiate(BASIC_FEATURES);
    driver.write(Reg.QueueSel, 7);
    driver.write(Reg.QueueNum, 4); // no queue 7
    expect(irq.level).toBe(false);
    driver.addStatus(VIRTIO_STATUS_DRIVER_OK);
    expect(irq.level).toBe(true);
    expect(driver.read(Reg.InterruptStatus)).toBe(2);
  });

  it('resets everything when 0 is written to Status, after which the device works again', () => {
    const { driver, transport, irq, rng } = rngSetup();
    let [queue] = driver.init(1);
    driver.write(Reg.QueueNotify, 3);
    expect(irq.level).toBe(true);
    driver.write(Reg.Status, 0);
    expect(driver.status).toBe(0);
    expect(driver.read(Reg.InterruptStatus)).toBe(0);
    expect(irq.level).toBe(false);
    expect(transport.features).toBe(0n);
    driver.write(Reg.QueueSel, 0);
    expect(driver.read(Reg.QueueReady)).toBe(0);

    [queue] = driver.init(1);
    queue.submit([], [16]);
    queue.kick();
    expect(queue.takeUsed()).toEqual([{ id: 0, len: 16 }]);
    expect(rng.bytesProvided).toBe(16);
  });
});

describe('queue registers', () => {
  it('reports QueueNumMax for existing queues and 0 for the others', () => {
    const { driver } = blkSetup();
    driver.write(Reg.QueueSel, 0);
    expect(driver.read(Reg.QueueNumMax)).toBe(8);
    driver.write(Reg.QueueSel, 1);
    expect(driver.read(Reg.QueueNumMax)).toBe(0);
    expect(driver.read(Reg.QueueReady)).toBe(0);
  });

  it('reads QueueReady back and lets the driver take a queue back with 0 and set it up again', () => {
    const { driver } = rngSetup();
    driver.negotiate(BASIC_FEATURES);
    driver.setupQueue(0, 4);
    expect(driver.read(Reg.QueueReady)).toBe(1);
    driver.write(Reg.QueueReady, 0);
    expect(driver.read(Reg.QueueReady)).toBe(0);
    const queue = driver.setupQueue(0, 8);
    driver.addStatus(VIRTIO_STATUS_DRIVER_OK);
    queue.submit([], [4]);
    queue.kick();
    expect(queue.takeUsed()).toHaveLength(1);
  });

  for (const size of [0, 3, 6, 16, 0x10000]) {
    it(`refuses queue size ${size} (max 8, power of two) at QueueReady with NEEDS_RESET`, () => {
      const { driver, transport } = rngSetup();
      driver.negotiate(BASIC_FEATURES);
      driver.write(Reg.QueueSel, 0);
      driver.write(Reg.QueueNum, size);
      driver.write(Reg.QueueDescLow, 0x2000);
      driver.write(Reg.QueueDriverLow, 0x4000);
      driver.write(Reg.QueueDeviceLow, 0x6000);
      driver.write(Reg.QueueReady, 1);
      expect(driver.read(Reg.QueueReady)).toBe(0);
      expect(driver.status & NEEDS_RESET).toBe(NEEDS_RESET);
      expect(transport.errors.count('bad-queue-size')).toBe(1);
    });
  }

  it.each([
    ['descriptor table outside RAM', Reg.QueueDescLow, 0xfff0_0000],
    ['driver area crossing the end of RAM', Reg.QueueDriverLow, (1 << 20) - 4],
    ['device area above 4 GiB', Reg.QueueDeviceHigh, 1],
    ['descriptor table beyond 2^53', Reg.QueueDescHigh, 0xffff_ffff],
    ['misaligned descriptor table', Reg.QueueDescLow, 0x2008],
    ['misaligned device area', Reg.QueueDeviceLow, 0x3002],
  ])('refuses a %s at QueueReady', (_name, reg, value) => {
    const { driver, transport } = rngSetup();
    driver.negotiate(BASIC_FEATURES);
    driver.write(Reg.QueueSel, 0);
    driver.write(Reg.QueueNum, 8);
    driver.write(Reg.QueueDescLow, 0x2000);
    driver.write(Reg.QueueDriverLow, 0x2100);
    driver.write(Reg.QueueDeviceLow, 0x3000);
    driver.write(reg, value);
    driver.write(Reg.QueueReady, 1);
    expect(driver.read(Reg.QueueReady)).toBe(0);
    expect(transport.errors.count('ring-out-of-range')).toBe(1);
    expect(driver.status & NEEDS_RESET).toBe(NEEDS_RESET);
  });

  it('refuses a ring placed in a hole below the end of RAM', () => {
    const ram = new TestGuestRam(1 << 20, { hole: [0x8_0000, 0x9_0000] });
    const transport = new VirtioMmioTransport(new VirtioRng({ queueSize: 8 }), { memory: ram, irq: new IrqRecorder() });
    const driver = new TestDriver(transport, ram, 0x8_ff00);
    driver.negotiate(BASIC_FEATURES);
    expect(() => driver.setupQueue(0)).not.toThrow(); // the descriptor table ends up in the hole
    expect(driver.read(Reg.QueueReady)).toBe(0);
    expect(transport.errors.count('ring-out-of-range')).toBe(1);
  });

  it('refuses queue register writes while the queue is ready and keeps the old value', () => {
    const { driver, transport, ram } = rngSetup();
    const [queue] = driver.init(1);
    driver.write(Reg.QueueDescLow, 0x8_0000);
    driver.write(Reg.QueueNum, 2);
    expect(transport.errors.count('queue-write-while-ready')).toBe(2);
    expect(driver.status & NEEDS_RESET).toBe(NEEDS_RESET);
    // The device stops serving until reset: nothing lands in the used ring.
    queue.submit([], [8]);
    queue.kick();
    expect(queue.takeUsed()).toHaveLength(0);
    expect(ram.bytes.subarray(0x8_0000, 0x8_0010).every((b) => b === 0)).toBe(true);
  });

  it('counts queue register writes for a queue that does not exist', () => {
    const { driver, transport } = rngSetup();
    driver.write(Reg.QueueSel, 1);
    driver.write(Reg.QueueReady, 1);
    expect(transport.errors.count('bad-queue-select')).toBe(1);
  });

  it('refuses notifications before DRIVER_OK and serves nothing', () => {
    const { driver, transport, rng } = rngSetup();
    driver.negotiate(BASIC_FEATURES);
    const queue = driver.setupQueue(0);
    queue.submit([], [8]);
    queue.kick();
    expect(queue.takeUsed()).toHaveLength(0);
    expect(rng.bytesProvided).toBe(0);
    expect(transport.errors.count('bad-notify')).toBe(1);
    expect(driver.status & NEEDS_RESET).toBe(NEEDS_RESET);
    // Later notifications are ignored until the driver resets the device.
    driver.addStatus(VIRTIO_STATUS_DRIVER_OK);
    queue.kick();
    expect(rng.bytesProvided).toBe(0);
    expect(transport.errors.total).toBe(1);
  });
});

describe('interrupts', () => {
  it('sets InterruptStatus bit 0 for used buffers and holds the line until InterruptACK', () => {
    const { driver, irq, transport } = rngSetup();
    const [queue] = driver.init(1, { accept: BASIC_FEATURES });
    queue.submit([], [4]);
    queue.kick();
    expect(driver.read(Reg.InterruptStatus)).toBe(1);
    expect(transport.pendingInterrupts).toBe(1);
    expect(irq.level).toBe(true);
    driver.write(Reg.InterruptACK, 2); // the wrong bit changes nothing
    expect(irq.level).toBe(true);
    driver.write(Reg.InterruptACK, 1);
    expect(irq.level).toBe(false);
    expect(irq.history).toEqual([true, false]);
  });

  it('keeps the line high while either cause is pending', () => {
    const { driver, irq, block, backend } = blkSetup();
    const [queue] = driver.init(1, { accept: BASIC_FEATURES });
    queue.submit([new Uint8Array(16)], [512, 1]);
    queue.kick();
    backend.resize(16 * 512);
    block.refreshCapacity();
    expect(driver.read(Reg.InterruptStatus)).toBe(3);
    driver.write(Reg.InterruptACK, 1);
    expect(irq.level).toBe(true);
    driver.write(Reg.InterruptACK, 2);
    expect(irq.level).toBe(false);
  });

  it('honours VIRTQ_AVAIL_F_NO_INTERRUPT when EVENT_IDX is not negotiated', () => {
    const { driver, irq } = rngSetup();
    const [queue] = driver.init(1, { accept: BASIC_FEATURES });
    queue.setAvailFlags(1);
    queue.submit([], [4]);
    queue.kick();
    expect(queue.takeUsed()).toHaveLength(1);
    expect(irq.level).toBe(false);
  });
});

describe('configuration space', () => {
  it('bumps ConfigGeneration and raises a configuration interrupt when the disk is resized', () => {
    const { driver, block, backend } = blkSetup();
    driver.init(1);
    const generation = driver.read(Reg.ConfigGeneration);
    expect(driver.readConfig(0, 4)).toBe(8);
    backend.resize(20 * 512);
    block.refreshCapacity();
    expect(driver.read(Reg.ConfigGeneration)).toBe(generation + 1);
    expect(driver.readConfig(0, 4)).toBe(20);
    expect(driver.takeInterrupt()).toBe(2);
    block.refreshCapacity(); // unchanged size: nothing to announce
    expect(driver.read(Reg.ConfigGeneration)).toBe(generation + 1);
  });

  it('reads 8-, 16- and 32-bit config fields little-endian and 0 past the end', () => {
    const { driver } = blkSetup();
    expect(driver.readConfig(20, 4)).toBe(512);
    expect(driver.readConfig(20, 2)).toBe(512);
    expect(driver.readConfig(21, 1)).toBe(2);
    expect(driver.readConfig(46, 4)).toBe(0);
    expect(driver.readConfig(0x100 - 4, 4)).toBe(0);
  });
});
