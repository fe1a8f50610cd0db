// A small virtio-mmio driver for tests, doing what Linux's virtio_mmio.c and virtio_ring.c do:
// reset, ACKNOWLEDGE, DRIVER, feature negotiation, FEATURES_OK, queue setup, DRIVER_OK, then
// requests as descriptor chains in split rings built in TestGuestRam. The raw helpers let hostile
// tests write rings a real driver never would.
import type { MmioHandler } from '@ringvisor/vmm-api';
import {
  VIRTIO_F_EVENT_IDX, VIRTIO_F_INDIRECT_DESC, VIRTIO_F_VERSION_1, VIRTIO_STATUS_ACKNOWLEDGE,
  VIRTIO_STATUS_DRIVER, VIRTIO_STATUS_DRIVER_OK, VIRTIO_STATUS_FEATURES_OK, VirtioMmioReg as Reg,
} from '../../../src/virtio/index.js';
import type { TestGuestRam } from './guest-ram.js';

export const VIRTQ_DESC_F_NEXT = 1;
export const VIRTQ_DESC_F_WRITE = 2;
export const VIRTQ_DESC_F_INDIRECT = 4;

export const bit = (n: number): bigint => 1n << BigInt(n);

export interface UsedElement {
  id: number;
  len: number;
}

/** A submitted chain: its head and where the device-writable buffers are. */
export interface Submitted {
  head: number;
  writable: { address: number; length: number }[];
}

export class TestDriver {
  readonly transport: MmioHandler;
  readonly ram: TestGuestRam;
  private next: number;

  constructor(transport: MmioHandler, ram: TestGuestRam, firstFree = 0x1000) {
    this.transport = transport;
    this.ram = ram;
    this.next = firstFree;
  }

  read(reg: number): number {
    return this.transport.mmioRead(reg, 4);
  }

  write(reg: number, value: number): void {
    this.transport.mmioWrite(reg, 4, value);
  }

  /** Bump allocation of zeroed guest RAM. */
  alloc(length: number, align = 16): number {
    const address = Math.ceil(this.next / align) * align;
    this.next = address + length;
    if (this.next > this.ram.ramEnd) throw new Error('test guest RAM exhausted');
    this.ram.bytes.fill(0, address, address + length);
    return address;
  }

  /** Where the next allocation starts; pass it to `releaseTo` to reuse everything allocated since. */
  get allocationMark(): number {
    return this.next;
  }

  releaseTo(mark: number): void {
    this.next = mark;
  }

  get status(): number {
    return this.read(Reg.Status);
  }

  addStatus(bits: number): void {
    this.write(Reg.Status, this.status | bits);
  }

  deviceFeatures(): bigint {
    this.write(Reg.DeviceFeaturesSel, 0);
    const low = this.read(Reg.DeviceFeatures);
    this.write(Reg.DeviceFeaturesSel, 1);
    const high = this.read(Reg.DeviceFeatures);
    return (BigInt(high) << 32n) | BigInt(low);
  }

  writeDriverFeatures(features: bigint): void {
    this.write(Reg.DriverFeaturesSel, 0);
    this.write(Reg.DriverFeatures, Number(features & 0xffff_ffffn));
    this.write(Reg.DriverFeaturesSel, 1);
    this.write(Reg.DriverFeatures, Number((features >> 32n) & 0xffff_ffffn));
  }

  /**
   * Reset, ACKNOWLEDGE, DRIVER, accept `accept` (default: everything offered), FEATURES_OK.
   * Returns whether the device kept FEATURES_OK set.
   */
  negotiate(accept?: bigint): boolean {
    this.write(Reg.Status, 0);
    this.addStatus(VIRTIO_STATUS_ACKNOWLEDGE);
    this.addStatus(VIRTIO_STATUS_DRIVER);
    this.writeDriverFeatures(accept ?? this.deviceFeatures());
    this.addStatus(VIRTIO_STATUS_FEATURES_OK);
    return (this.status & VIRTIO_STATUS_FEATURES_OK) !== 0;
  }

  /** Allocates rings for queue `index` and makes it ready, as vm_setup_vq does. */
  setupQueue(index: number, size?: number, features = 0n): DriverQueue {
    this.write(Reg.QueueSel, index);
    const max = this.read(Reg.QueueNumMax);
    if (max === 0) throw new Error(`queue ${index} does not exist`);
    const n = size ?? max;
    const desc = this.alloc(16 * n, 16);
    const avail = this.alloc(6 + 2 * n, 2);
    const used = this.alloc(6 + 8 * n, 4);
    this.write(Reg.QueueNum, n);
    this.write(Reg.QueueDescLow, desc);
    this.write(Reg.QueueDescHigh, 0);
    this.write(Reg.QueueDriverLow, avail);
    this.write(Reg.QueueDriverHigh, 0);
    this.write(Reg.QueueDeviceLow, used);
    this.write(Reg.QueueDeviceHigh, 0);
    this.write(Reg.QueueReady, 1);
    return new DriverQueue(this, index, n, desc, avail, used, (features & bit(VIRTIO_F_EVENT_IDX)) !== 0n);
  }

  /** The whole Linux probe sequence; returns the queues, ready for requests. */
  init(queueCount: number, options: { accept?: bigint; queueSize?: number } = {}): DriverQueue[] {
    const accept = options.accept ?? this.deviceFeatures();
    if (!this.negotiate(accept)) throw new Error('device refused FEATURES_OK');
    const queues: DriverQueue[] = [];
    for (let i = 0; i < queueCount; i++) queues.push(this.setupQueue(i, options.queueSize, accept));
    this.addStatus(VIRTIO_STATUS_DRIVER_OK);
    return queues;
  }

  /** The interrupt handler's part: read InterruptStatus, acknowledge it, return it. */
  takeInterrupt(): number {
    const pending = this.read(Reg.InterruptStatus);
    this.write(Reg.InterruptACK, pending);
    return pending;
  }

  readConfig(offset: number, size: 1 | 2 | 4): number {
    return this.transport.mmioRead(Reg.Config + offset, size);
  }
}

/** Features a driver accepts to get the ring layouts most tests want: everything but EVENT_IDX. */
export const BASIC_FEATURES = bit(VIRTIO_F_VERSION_1) | bit(VIRTIO_F_INDIRECT_DESC);

export class DriverQueue {
  readonly driver: TestDriver;
  readonly index: number;
  readonly size: number;
  readonly desc: number;
  readonly avail: number;
  readonly used: number;
  readonly eventIdx: boolean;
  private freeList: number[];
  private chains = new Map<number, number[]>();
  private availIdx = 0;
  private lastUsed = 0;

  constructor(driver: TestDriver, index: number, size: number, desc: number, avail: number, used: number, eventIdx: boolean) {
    this.driver = driver;
    this.index = index;
    this.size = size;
    this.desc = desc;
    this.avail = avail;
    this.used = used;
    this.eventIdx = eventIdx;
    this.freeList = Array.from({ length: size }, (_, i) => size - 1 - i);
  }

  private get ram(): TestGuestRam {
    return this.driver.ram;
  }

  /** Writes descriptor `i` of the table at `table` (the queue's own table by default). */
  writeDesc(i: number, address: number, length: number, flags: number, next: number, table = this.desc): void {
    const at = table + 16 * i;
    this.ram.write32(at, address % 0x1_0000_0000);
    this.ram.write32(at + 4, Math.floor(address / 0x1_0000_0000));
    this.ram.write32(at + 8, length);
    this.ram.write16(at + 12, flags);
    this.ram.write16(at + 14, next);
  }

  /**
   * Builds a chain of device-readable buffers holding `readable` followed by device-writable
   * buffers of `writableLengths` bytes, publishes it in the avail ring (unless `publish` is false)
   * and returns it. With `indirect`, the buffers go into one indirect table.
   */
  submit(readable: Uint8Array[], writableLengths: number[], options: { indirect?: boolean; publish?: boolean } = {}): Submitted {
    const buffers: { address: number; length: number; flags: number }[] = [];
    for (const data of readable) {
      const address = this.driver.alloc(Math.max(1, data.length));
      this.ram.bytes.set(data, address);
      buffers.push({ address, length: data.length, flags: 0 });
    }
    const writable: Submitted['writable'] = [];
    for (const length of writableLengths) {
      const address = this.driver.alloc(Math.max(1, length));
      writable.push({ address, length });
      buffers.push({ address, length, flags: VIRTQ_DESC_F_WRITE });
    }
    let head: number;
    if (options.indirect) {
      const table = this.driver.alloc(16 * buffers.length, 16);
      buffers.forEach((b, i) => {
        const last = i === buffers.length - 1;
        this.writeDesc(i, b.address, b.length, b.flags | (last ? 0 : VIRTQ_DESC_F_NEXT), last ? 0 : i + 1, table);
      });
      head = this.takeDescriptors(1)[0];
      this.writeDesc(head, table, 16 * buffers.length, VIRTQ_DESC_F_INDIRECT, 0);
      this.chains.set(head, [head]);
    } else {
      const ids = this.takeDescriptors(buffers.length);
      buffers.forEach((b, i) => {
        const last = i === buffers.length - 1;
        this.writeDesc(ids[i], b.address, b.length, b.flags | (last ? 0 : VIRTQ_DESC_F_NEXT), last ? 0 : ids[i + 1]);
      });
      head = ids[0];
      this.chains.set(head, ids);
    }
    if (options.publish ?? true) this.publish(head);
    return { head, writable };
  }

  private takeDescriptors(n: number): number[] {
    if (n > this.freeList.length) throw new Error('test driver ran out of descriptors');
    return this.freeList.splice(this.freeList.length - n, n).reverse();
  }

  /** Puts `head` in the next avail ring slot and advances avail.idx. */
  publish(head: number): void {
    this.ram.write16(this.avail + 4 + 2 * (this.availIdx % this.size), head);
    this.availIdx = (this.availIdx + 1) & 0xffff;
    this.setAvailIdx(this.availIdx);
  }

  /** Writes avail.idx directly (hostile tests). */
  setAvailIdx(value: number): void {
    this.ram.write16(this.avail + 2, value);
  }

  setAvailFlags(flags: number): void {
    this.ram.write16(this.avail, flags);
  }

  /** used_event (EVENT_IDX): the used index at which the driver wants its next interrupt. */
  setUsedEvent(value: number): void {
    this.ram.write16(this.avail + 4 + 2 * this.size, value);
  }

  /** avail_event (EVENT_IDX): the avail index the device wants a notification for. */
  get availEvent(): number {
    return this.ram.read16(this.used + 4 + 8 * this.size);
  }

  get usedIdx(): number {
    return this.ram.read16(this.used + 2);
  }

  kick(): void {
    this.driver.write(Reg.QueueNotify, this.index);
  }

  /** New used ring entries since the last call; their descriptors go back on the free list. */
  takeUsed(): UsedElement[] {
    const out: UsedElement[] = [];
    const end = this.usedIdx;
    while (this.lastUsed !== end) {
      const at = this.used + 4 + 8 * (this.lastUsed % this.size);
      const element = { id: this.ram.read32(at), len: this.ram.read32(at + 4) };
      out.push(element);
      const ids = this.chains.get(element.id);
      if (ids) {
        this.freeList.push(...ids);
        this.chains.delete(element.id);
      }
      this.lastUsed = (this.lastUsed + 1) & 0xffff;
    }
    return out;
  }

  /** The bytes the device left in a submitted chain's writable buffer `i`. */
  readWritable(sub: Submitted, i: number): Uint8Array {
    const { address, length } = sub.writable[i];
    return this.ram.bytes.slice(address, address + length);
  }
}
