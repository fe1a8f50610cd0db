// A hostile driver writing random values to random virtio-mmio registers and configuration bytes,
// scribbling over its rings and kicking queues in any state. Whatever it does, the transport and
// the device must not throw (TestGuestRam also throws on any scalar access outside RAM), must
// answer reads within the access size, and must work again after a reset: no state a driver can
// leave behind wedges the device.
import { describe, expect, it } from 'vitest';
import type { AccessSize } from '@ringvisor/vmm-api';
import { BufferSerialBackend } from '../../src/index.js';
import {
  MemoryBlockBackend, VirtioBlock, VirtioConsole, VirtioMmioReg as Reg, VirtioMmioTransport, VirtioRng,
  type VirtioDevice,
} from '../../src/virtio/index.js';
import { IrqRecorder } from '../support/irq.js';
import { lcg } from '../support/random.js';
import { TestDriver } from './support/driver.js';
import { TestGuestRam } from './support/guest-ram.js';

const RAM_SIZE = 1 << 20;
/** A hole below ramEnd, as the VGA window is on a PC. */
const HOLE: [number, number] = [0xa_0000, 0xc_0000];
const REGISTERS = Object.values(Reg).filter((offset) => offset < Reg.Config);
const SIZES: readonly AccessSize[] = [4, 4, 4, 4, 1, 2];

type Kind = 'blk' | 'console' | 'rng';

function makeDevice(kind: Kind, backend: BufferSerialBackend): VirtioDevice {
  switch (kind) {
    case 'blk': return new VirtioBlock({ backend: new MemoryBlockBackend({ size: 64 * 1024 }), queueSize: 16 });
    case 'console': return new VirtioConsole({ backend, queueSize: 16 });
    case 'rng': return new VirtioRng({ queueSize: 16 });
  }
}

/** A value a hostile driver might write: mostly small or RAM-like, sometimes anything. */
function garbage(next: () => number): number {
  switch (next() % 4) {
    case 0: return next() % 20;
    case 1: return next() % (RAM_SIZE + 0x2000);
    case 2: return 0xffff_ffff;
    default: return ((next() << 9) ^ next()) >>> 0;
  }
}

function randomBytes(next: () => number, length: number): Uint8Array {
  return Uint8Array.from({ length }, () => next() & 0xff);
}

/** One random register access, anywhere in the window. */
function registerTraffic(next: () => number, transport: VirtioMmioTransport): void {
  const offset = next() % 8 === 0 ? next() % 0x1000 : REGISTERS[next() % REGISTERS.length];
  const size = SIZES[next() % SIZES.length];
  if (next() % 3 === 0) {
    const value = transport.mmioRead(offset, size);
    expect(Number.isInteger(value) && value >= 0 && value < 2 ** (8 * size)).toBe(true);
  } else {
    transport.mmioWrite(offset, size, garbage(next));
  }
}

/** A served request after the final reset proves the device was not wedged. */
function expectWorking(kind: Kind, driver: TestDriver, device: VirtioDevice, backend: BufferSerialBackend): void {
  const queues = driver.init(device.queueSizes.length);
  if (kind === 'console') {
    backend.drain();
    queues[1].submit([Uint8Array.of(0x6f, 0x6b)], []);
    queues[1].kick();
    expect(backend.text()).toBe('ok');
    return;
  }
  const readable = kind === 'blk' ? [new Uint8Array(16)] : []; // a read of sector 0
  queues[0].submit(readable, kind === 'blk' ? [512, 1] : [64]);
  queues[0].kick();
  expect(queues[0].takeUsed()).toHaveLength(1);
}

describe('virtio-mmio under random register traffic', () => {
  it.each([
    ['blk', 1], ['blk', 2], ['console', 3], ['console', 4], ['rng', 5], ['rng', 6],
  ] as [Kind, number][])('%s, seed %i', (kind, seed) => {
    const next = lcg(seed);
    const ram = new TestGuestRam(RAM_SIZE, { hole: HOLE, views: seed % 2 === 0 });
    const backend = new BufferSerialBackend(256);
    const device = makeDevice(kind, backend);
    const transport = new VirtioMmioTransport(device, { memory: ram, irq: new IrqRecorder() });
    const driver = new TestDriver(transport, ram);
    const mark = driver.allocationMark;
    let served = 0;
    for (let episode = 0; episode < 60; episode++) {
      // Half the episodes start from a proper probe, so that ring garbage reaches active queues.
      const queues = next() % 2 === 0 ? (driver.releaseTo(mark), driver.init(device.queueSizes.length)) : [];
      // The test driver's own bookkeeping allows a few chains per episode (5 x 3 of 16 descriptors).
      let submitted = 0;
      for (let step = 0; step < 50; step++) {
        const op = next() % 20;
        const queue = queues.length > 0 ? queues[next() % queues.length] : undefined;
        if (op < 2 || queue === undefined) {
          registerTraffic(next, transport);
        } else if (op < 6) {
          if (submitted++ < 5) queue.submit(kind === 'blk' ? [randomBytes(next, 16)] : [randomBytes(next, next() % 64)],
            [next() % 1100, 1], { indirect: next() % 2 === 0, publish: true });
        } else if (op < 10) {
          queue.writeDesc(next() % queue.size, garbage(next), garbage(next), next() & 7, next() % (queue.size + 2));
        } else if (op < 12) {
          queue.publish(next() % (queue.size + 2));
        } else if (op < 13) {
          queue.setAvailIdx(next() % 40);
        } else if (op < 17) {
          expect(() => queue.kick()).not.toThrow();
          served += queue.takeUsed().length;
        } else if (op < 18) {
          const at = 0x1000 + (next() % 0x4000);
          for (let i = 0; i < 16; i++) ram.bytes[at + i] = next() & 0xff;
        } else {
          backend.type(randomBytes(next, next() % 300));
          backend.drain();
        }
      }
    }
    // The episodes must reach the rings for the test to mean anything.
    expect(served).toBeGreaterThan(0);
    expect(transport.errors.total).toBeGreaterThan(0);
    driver.releaseTo(mark);
    expectWorking(kind, driver, device, backend);
  });
});
