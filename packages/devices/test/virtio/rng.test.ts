// virtio-rng: the driver posts device-writable buffers, the device fills them from node:crypto.
import { describe, expect, it } from 'vitest';
import { VirtioMmioTransport, VirtioRng, seededEntropy } from '../../src/virtio/index.js';
import { IrqRecorder } from '../support/irq.js';
import { BASIC_FEATURES, TestDriver } from './support/driver.js';
import { TestGuestRam } from './support/guest-ram.js';

function setup(options: { maxBytesPerRequest?: number; views?: boolean; seed?: number } = {}) {
  const ram = new TestGuestRam(1 << 20, { views: options.views });
  const irq = new IrqRecorder();
  const source = options.seed === undefined ? undefined : seededEntropy(options.seed);
  const rng = new VirtioRng({ queueSize: 4, maxBytesPerRequest: options.maxBytesPerRequest, source });
  const transport = new VirtioMmioTransport(rng, { memory: ram, irq });
  const driver = new TestDriver(transport, ram);
  const [queue] = driver.init(1, { accept: BASIC_FEATURES });
  return { ram, irq, rng, transport, driver, queue };
}

describe('virtio-rng', () => {
  it('is device 4 with one queue and no configuration space', () => {
    const { driver } = setup();
    expect(driver.read(0x008)).toBe(4);
    driver.write(0x030, 1);
    expect(driver.read(0x034)).toBe(0);
    expect(driver.readConfig(0, 4)).toBe(0);
  });

  it('fills a posted buffer with random bytes and reports the length in the used ring', () => {
    const { queue, irq, rng } = setup();
    const a = queue.submit([], [64]);
    const b = queue.submit([], [64]);
    queue.kick();
    expect(queue.takeUsed()).toEqual([{ id: a.head, len: 64 }, { id: b.head, len: 64 }]);
    expect(irq.level).toBe(true);
    const first = queue.readWritable(a, 0);
    const second = queue.readWritable(b, 0);
    // 64 zero bytes or two equal 64-byte draws from a CSPRNG do not happen.
    expect(first.some((x) => x !== 0)).toBe(true);
    expect(first).not.toEqual(second);
    expect(rng.bytesProvided).toBe(128);
  });

  it('repeats its bytes for a seed, in any split into buffers, and differs between seeds', () => {
    const draw = (seed: number, sizes: number[], views: boolean): number[] => {
      const { queue } = setup({ seed, views });
      const sub = queue.submit([], sizes);
      queue.kick();
      return sizes.flatMap((_, i) => [...queue.readWritable(sub, i)]);
    };
    const a = draw(7, [64], true);
    expect(draw(7, [10, 3, 51], false)).toEqual(a);
    expect(draw(8, [64], true)).not.toEqual(a);
    expect(draw(0, [64], true).some((x) => x !== 0)).toBe(true);
    expect(draw(2 ** 40 + 7, [64], true)).not.toEqual(a);
    expect(() => seededEntropy(-1)).toThrow(RangeError);
    expect(() => seededEntropy(1.5)).toThrow(RangeError);
  });

  it('fills chains of several buffers, also without zero-copy views', () => {
    const { queue } = setup({ views: false });
    const sub = queue.submit([], [10, 20, 30], { indirect: true });
    queue.kick();
    expect(queue.takeUsed()).toEqual([{ id: sub.head, len: 60 }]);
    expect(queue.readWritable(sub, 2).some((x) => x !== 0)).toBe(true);
  });

  it('gives at most maxBytesPerRequest to one request', () => {
    const { queue, ram } = setup({ maxBytesPerRequest: 100 });
    const sub = queue.submit([], [200]);
    queue.kick();
    expect(queue.takeUsed()).toEqual([{ id: sub.head, len: 100 }]);
    const tail = ram.bytes.subarray(sub.writable[0].address + 100, sub.writable[0].address + 200);
    expect(tail.every((x) => x === 0)).toBe(true);
  });

  it('ignores device-readable buffers and answers 0 bytes for a chain with no writable one', () => {
    const { queue, transport } = setup();
    const sub = queue.submit([new Uint8Array(8)], []);
    queue.kick();
    expect(queue.takeUsed()).toEqual([{ id: sub.head, len: 0 }]);
    expect(transport.errors.total).toBe(0);
  });
});
