// A hostile or broken driver writing garbage into its split rings (spec section 2.7). Each case
// must end in DEVICE_NEEDS_RESET with a counted error: no host exception, no access outside guest
// RAM, no unbounded loop, nothing put in the used ring.
import { describe, expect, it } from 'vitest';
import {
  MemoryBlockBackend, VIRTIO_STATUS_NEEDS_RESET, VirtioBlock, VirtioMmioReg as Reg, VirtioMmioTransport, VirtioRng,
  type VirtioErrorKind,
} from '../../src/virtio/index.js';
import { IrqRecorder } from '../support/irq.js';
import {
  BASIC_FEATURES, TestDriver, VIRTQ_DESC_F_INDIRECT, VIRTQ_DESC_F_NEXT, VIRTQ_DESC_F_WRITE, bit,
} from './support/driver.js';
import { TestGuestRam } from './support/guest-ram.js';

const RAM_SIZE = 1 << 20;
const W = VIRTQ_DESC_F_WRITE;
const N = VIRTQ_DESC_F_NEXT;
const I = VIRTQ_DESC_F_INDIRECT;

function rng(accept = BASIC_FEATURES, queueSize = 8, hole?: [number, number]) {
  const ram = new TestGuestRam(RAM_SIZE, { hole });
  const irq = new IrqRecorder();
  const device = new VirtioRng({ queueSize });
  const transport = new VirtioMmioTransport(device, { memory: ram, irq });
  const driver = new TestDriver(transport, ram);
  const [queue] = driver.init(1, { accept });
  return { ram, irq, device, transport, driver, queue };
}

/** Publishes `head`, kicks, and checks the device refused the chain with `kind`. */
function expectRefused(setup: ReturnType<typeof rng>, head: number, kind: VirtioErrorKind): void {
  const { queue, transport, driver, irq, device } = setup;
  queue.publish(head);
  const before = setup.ram.bytes.slice();
  expect(() => queue.kick()).not.toThrow();
  expect(transport.errors.count(kind)).toBe(1);
  expect(transport.errors.total).toBe(1);
  expect(driver.status & VIRTIO_STATUS_NEEDS_RESET).toBe(VIRTIO_STATUS_NEEDS_RESET);
  expect(queue.takeUsed()).toHaveLength(0);
  expect(device.bytesProvided).toBe(0);
  expect(irq.level).toBe(true);
  expect(driver.read(Reg.InterruptStatus)).toBe(2);
  // The device wrote nothing at all to guest RAM (avail_event is not used without EVENT_IDX).
  expect(firstDifference(setup.ram.bytes, before)).toBe(-1);
}

function firstDifference(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return i;
  return -1;
}

describe('hostile descriptors', () => {
  it.each([
    ['above the end of RAM', RAM_SIZE, 16],
    ['crossing the end of RAM', RAM_SIZE - 8, 16],
    ['whose length wraps 32 bits', 0xffff_f000, 0x2000],
    ['with a 0xffffffff length', 0x1000, 0xffff_ffff],
    ['above 4 GiB', 0x1_0000_1000, 16],
    ['at the top of the 64-bit space', 0xffff_ffff * 0x1_0000_0000 + 0xffff_f000, 0x1000],
  ])('refuses a buffer %s', (_name, address, length) => {
    const setup = rng();
    setup.queue.writeDesc(0, address, length, W, 0);
    expectRefused(setup, 0, 'buffer-out-of-range');
  });

  it('refuses a bad buffer at the end of an otherwise good chain and serves nothing of it', () => {
    const setup = rng();
    setup.queue.writeDesc(0, 0x8_0000, 16, W | N, 1);
    setup.queue.writeDesc(1, RAM_SIZE + 0x1000, 16, W, 0);
    expectRefused(setup, 0, 'buffer-out-of-range');
  });

  it('refuses a head index beyond the queue size', () => {
    expectRefused(rng(), 8, 'descriptor-index-out-of-range');
  });

  it('refuses a next index beyond the queue size', () => {
    const setup = rng();
    setup.queue.writeDesc(0, 0x8_0000, 16, W | N, 0xffff);
    expectRefused(setup, 0, 'descriptor-index-out-of-range');
  });

  it('stops a chain that loops on itself', () => {
    const setup = rng();
    setup.queue.writeDesc(0, 0x8_0000, 16, W | N, 0);
    expectRefused(setup, 0, 'chain-too-long');
  });

  it('stops a loop through the whole table, bounded by the queue size', () => {
    const setup = rng(BASIC_FEATURES, 8);
    for (let i = 0; i < 8; i++) setup.queue.writeDesc(i, 0x8_0000 + 64 * i, 16, W | N, (i + 1) % 8);
    expectRefused(setup, 3, 'chain-too-long');
  });

  it('serves a chain of exactly the queue size (the bound is not off by one)', () => {
    const setup = rng(BASIC_FEATURES, 8);
    for (let i = 0; i < 8; i++) setup.queue.writeDesc(i, 0x8_0000 + 64 * i, 16, i < 7 ? W | N : W, i + 1);
    setup.queue.publish(0);
    setup.queue.kick();
    expect(setup.queue.takeUsed()).toEqual([{ id: 0, len: 128 }]);
    expect(setup.transport.errors.total).toBe(0);
  });

  it('stops a loop inside an indirect table', () => {
    const setup = rng();
    const table = setup.driver.alloc(64);
    setup.queue.writeDesc(0, 0x8_0000, 16, W | N, 1, table);
    setup.queue.writeDesc(1, 0x8_0100, 16, W | N, 0, table);
    setup.queue.writeDesc(0, table, 64, I, 0);
    expectRefused(setup, 0, 'chain-too-long');
  });

  it('refuses an indirect descriptor inside an indirect table', () => {
    const setup = rng();
    const inner = setup.driver.alloc(16);
    setup.queue.writeDesc(0, 0x8_0000, 16, W, 0, inner);
    const outer = setup.driver.alloc(16);
    setup.queue.writeDesc(0, inner, 16, I, 0, outer);
    setup.queue.writeDesc(0, outer, 16, I, 0);
    expectRefused(setup, 0, 'nested-indirect');
  });

  it('refuses INDIRECT together with NEXT', () => {
    const setup = rng();
    const table = setup.driver.alloc(16);
    setup.queue.writeDesc(0, 0x8_0000, 16, W, 0, table);
    setup.queue.writeDesc(0, table, 16, I | N, 1);
    setup.queue.writeDesc(1, 0x8_0100, 16, W, 0);
    expectRefused(setup, 0, 'nested-indirect');
  });

  it('refuses an indirect descriptor when VIRTIO_F_INDIRECT_DESC was not negotiated', () => {
    const setup = rng(bit(32));
    const table = setup.driver.alloc(16);
    setup.queue.writeDesc(0, 0x8_0000, 16, W, 0, table);
    setup.queue.writeDesc(0, table, 16, I, 0);
    expectRefused(setup, 0, 'bad-indirect-table');
  });

  it.each([
    ['empty', 0],
    ['not a multiple of 16 bytes', 24],
    ['larger than the queue', 16 * 9],
  ])('refuses an indirect table that is %s', (_name, length) => {
    const setup = rng();
    const table = setup.driver.alloc(256);
    setup.queue.writeDesc(0, table, length, I, 0);
    expectRefused(setup, 0, 'bad-indirect-table');
  });

  it('refuses an indirect table outside RAM', () => {
    const setup = rng();
    setup.queue.writeDesc(0, RAM_SIZE - 16, 32, I, 0);
    expectRefused(setup, 0, 'buffer-out-of-range');
  });

  it('refuses an indirect table in a hole below the end of RAM, without reading the hole', () => {
    // A PC has holes below ramEnd (VGA at 0xa0000, the PCI hole with MMIO devices when RAM goes
    // above 4 GiB); descriptor words read from there would be MMIO reads of some device.
    const hole: [number, number] = [0xa_0000, 0xc_0000];
    const setup = rng(BASIC_FEATURES, 8, hole);
    setup.queue.writeDesc(0, 0xa_0000, 32, I, 0);
    expectRefused(setup, 0, 'buffer-out-of-range');
  });

  it('refuses an indirect table that runs from RAM into a hole', () => {
    const hole: [number, number] = [0xa_0000, 0xc_0000];
    const setup = rng(BASIC_FEATURES, 8, hole);
    setup.queue.writeDesc(0, 0xa_0000 - 16, 32, I, 0);
    expectRefused(setup, 0, 'buffer-out-of-range');
  });

  it('refuses an avail index that jumps by more than the queue size', () => {
    const setup = rng();
    const { queue, transport, driver } = setup;
    queue.setAvailIdx(9);
    queue.kick();
    expect(transport.errors.count('avail-index-jump')).toBe(1);
    expect(driver.status & VIRTIO_STATUS_NEEDS_RESET).toBe(VIRTIO_STATUS_NEEDS_RESET);
    expect(queue.takeUsed()).toHaveLength(0);
  });

  it('refuses an avail index that moves backwards (a jump of almost 2^16)', () => {
    const setup = rng();
    setup.queue.submit([], [8]);
    setup.queue.kick();
    expect(setup.queue.takeUsed()).toHaveLength(1);
    setup.queue.setAvailIdx(0);
    setup.queue.kick();
    expect(setup.transport.errors.count('avail-index-jump')).toBe(1);
  });

  it('accepts exactly a queue-size worth of new entries', () => {
    const setup = rng();
    for (let i = 0; i < 8; i++) setup.queue.submit([], [4]);
    setup.queue.kick();
    expect(setup.queue.takeUsed()).toHaveLength(8);
    expect(setup.transport.errors.total).toBe(0);
  });

  it('refuses a device-readable buffer after a device-writable one', () => {
    const ram = new TestGuestRam(RAM_SIZE);
    const block = new VirtioBlock({ backend: new MemoryBlockBackend({ size: 4096 }), queueSize: 8 });
    const transport = new VirtioMmioTransport(block, { memory: ram, irq: new IrqRecorder() });
    const driver = new TestDriver(transport, ram);
    const [queue] = driver.init(1, { accept: BASIC_FEATURES });
    queue.writeDesc(0, 0x8_0000, 16, N, 1);
    queue.writeDesc(1, 0x8_0100, 512, W | N, 2);
    queue.writeDesc(2, 0x8_0400, 1, 0, 0);
    queue.publish(0);
    queue.kick();
    expect(transport.errors.count('readable-after-writable')).toBe(1);
    expect(queue.takeUsed()).toHaveLength(0);
    expect(block.stats.reads).toBe(0);
  });

  it('serves again after the driver resets the device', () => {
    const setup = rng();
    setup.queue.writeDesc(0, 0x8_0000, 16, W | N, 0);
    setup.queue.publish(0);
    setup.queue.kick();
    expect(setup.transport.errors.count('chain-too-long')).toBe(1);
    const [queue] = setup.driver.init(1, { accept: BASIC_FEATURES });
    queue.submit([], [32]);
    queue.kick();
    expect(queue.takeUsed()).toEqual([expect.objectContaining({ len: 32 })]);
    expect(setup.driver.status & VIRTIO_STATUS_NEEDS_RESET).toBe(0);
  });

  it('survives a fuzzed descriptor table: every chain is either served or ends in NEEDS_RESET', () => {
    let seed = 0x1234_5678;
    const random = (): number => {
      seed ^= seed << 13;
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      return seed >>> 0;
    };
    let served = 0;
    let refused = 0;
    for (let round = 0; round < 100; round++) {
      const setup = rng(BASIC_FEATURES, 16);
      const { queue, ram } = setup;
      for (let i = 0; i < 16; i++) {
        // Addresses mostly inside RAM so that some chains are valid; flags and next at random.
        const address = random() % 3 === 0 ? random() * 0x1000 + random() : random() % (RAM_SIZE + 0x1000);
        queue.writeDesc(i, address, random() % 0x3000, random() & 7, random() % 20);
      }
      for (let i = 0; i < 16; i++) ram.write16(queue.avail + 4 + 2 * i, random() % 18);
      const availIdx = random() % 24;
      queue.setAvailIdx(availIdx);
      // TestGuestRam throws on any scalar access outside RAM, so this also proves the device
      // never read or wrote a ring field it had not checked.
      expect(() => queue.kick()).not.toThrow();
      const broken = (setup.driver.status & VIRTIO_STATUS_NEEDS_RESET) !== 0;
      if (availIdx > 16) expect(broken).toBe(true);
      if (!broken) expect(queue.usedIdx).toBe(availIdx);
      for (const u of queue.takeUsed()) expect(u.id).toBeLessThan(16);
      if (broken) refused++;
      else served++;
    }
    // The generator must exercise both outcomes for the test to mean anything.
    expect(served).toBeGreaterThan(0);
    expect(refused).toBeGreaterThan(0);
  });
});

describe('event index suppression (VIRTIO_F_EVENT_IDX)', () => {
  const EVENT_IDX = bit(29);

  function eventRng() {
    return rng(BASIC_FEATURES | EVENT_IDX);
  }

  it('publishes avail_event as the next avail index the device will read', () => {
    const { queue } = eventRng();
    queue.submit([], [4]);
    queue.submit([], [4]);
    queue.kick();
    expect(queue.availEvent).toBe(2);
  });

  it('interrupts only when used.idx passes used_event', () => {
    const { queue, irq, driver } = eventRng();
    queue.setUsedEvent(0); // interrupt after the first used entry
    queue.submit([], [4]);
    queue.kick();
    expect(irq.level).toBe(true);
    driver.takeInterrupt();

    queue.setUsedEvent(3); // wants an interrupt once entry 3 is used (used.idx reaches 4)
    queue.submit([], [4]);
    queue.kick();
    expect(queue.usedIdx).toBe(2);
    expect(irq.level).toBe(false);
    queue.submit([], [4]);
    queue.kick();
    expect(irq.level).toBe(false);
    queue.submit([], [4]);
    queue.kick();
    expect(queue.usedIdx).toBe(4);
    expect(irq.level).toBe(true);
  });

  it('interrupts for a batch that steps over used_event', () => {
    const { queue, irq, driver } = eventRng();
    queue.submit([], [4]);
    queue.kick();
    driver.takeInterrupt();
    queue.setUsedEvent(2);
    for (let i = 0; i < 4; i++) queue.submit([], [4]);
    queue.kick();
    expect(queue.usedIdx).toBe(5);
    expect(irq.level).toBe(true);
  });

  it('ignores VIRTQ_AVAIL_F_NO_INTERRUPT once EVENT_IDX is negotiated', () => {
    const { queue, irq } = eventRng();
    queue.setAvailFlags(1);
    queue.setUsedEvent(0);
    queue.submit([], [4]);
    queue.kick();
    expect(irq.level).toBe(true);
  });
});

describe('a queue worked across the 16-bit index wrap', () => {
  it('keeps serving when avail.idx and used.idx wrap past 65535', () => {
    const { queue, device, transport, driver } = rng(BASIC_FEATURES, 8);
    const buffer = driver.alloc(8);
    for (let i = 0; i < 8; i++) queue.writeDesc(i, buffer + i, 1, W, 0);
    const rounds = 65536 / 8 + 2;
    for (let round = 0; round < rounds; round++) {
      for (let i = 0; i < 8; i++) queue.publish(i);
      queue.kick();
    }
    expect(transport.errors.total).toBe(0);
    expect(queue.usedIdx).toBe((rounds * 8) & 0xffff);
    expect(device.bytesProvided).toBe(rounds * 8);
  });
});
