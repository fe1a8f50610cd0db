// The device side of one split virtqueue (virtio spec v1.1, section 2.6): the descriptor table,
// the driver area ("avail" ring) and the device area ("used" ring), all in guest RAM. Everything
// read from guest RAM is checked before use, and every walk is bounded by the queue size, so a
// hostile driver gets `onError` (and a broken queue) rather than a hang or a host fault.
import type { GuestMemory } from '@ringvisor/vmm-api';
import { DescriptorChain } from './descriptor-chain.js';
import type { VirtioErrorKind } from './errors.js';

/** Descriptor flags (section 2.6.5). */
const VIRTQ_DESC_F_NEXT = 1;
const VIRTQ_DESC_F_WRITE = 2;
const VIRTQ_DESC_F_INDIRECT = 4;
/** avail.flags: the driver asks for no used-buffer interrupts (ignored once EVENT_IDX is negotiated). */
const VIRTQ_AVAIL_F_NO_INTERRUPT = 1;

const DESCRIPTOR_SIZE = 16;
/** Largest queue size a split virtqueue can have (section 2.6). */
export const VIRTQ_MAX_SIZE = 32768;

/** Addresses above this cannot be represented exactly in a JS number, so they are never RAM. */
const MAX_SAFE_HIGH_WORD = 0x1fffff;

/**
 * True when `[address, address + length)` is all RAM. Scalar GuestMemory reads outside RAM are not
 * refused: they reach ROM or MMIO, so anything a device reads field by field is checked here first.
 */
function isAllRam(memory: GuestMemory, address: number, length: number): boolean {
  return memory.view(address, length) !== null || memory.readBytes(address, new Uint8Array(length));
}

export type VirtqueueErrorSink = (kind: VirtioErrorKind, detail: string) => void;

export class Virtqueue {
  /** QueueNumMax: the largest size the device accepts; fixed by the device model. */
  readonly maxSize: number;
  /** QueueNum as last written by the driver. */
  size: number;
  ready = false;
  descLow = 0;
  descHigh = 0;
  driverLow = 0;
  driverHigh = 0;
  deviceLow = 0;
  deviceHigh = 0;

  /** Negotiated VIRTIO_F_EVENT_IDX / VIRTIO_F_INDIRECT_DESC, set when the driver is done negotiating. */
  eventIdx = false;
  indirect = false;

  /** Next avail ring entry the device will take (free-running 16-bit). */
  private lastAvail = 0;
  /** Next used ring entry the device will fill (free-running 16-bit). */
  private usedIdx = 0;
  /** used.idx at the last interrupt decision; null until the first one (section 2.7.10). */
  private signalledUsed: number | null = null;
  /** Set on the first ring error; a broken queue serves nothing until the device is reset. */
  private broken = false;

  private readonly memory: GuestMemory;
  private readonly onError: VirtqueueErrorSink;

  constructor(maxSize: number, memory: GuestMemory, onError: VirtqueueErrorSink) {
    if (!Number.isInteger(maxSize) || maxSize < 1 || maxSize > VIRTQ_MAX_SIZE) {
      throw new RangeError(`virtqueue size ${maxSize} is not in 1..${VIRTQ_MAX_SIZE}`);
    }
    this.maxSize = maxSize;
    this.size = maxSize;
    this.memory = memory;
    this.onError = onError;
  }

  get descAddress(): number {
    return this.descHigh * 0x1_0000_0000 + this.descLow;
  }
  get driverAddress(): number {
    return this.driverHigh * 0x1_0000_0000 + this.driverLow;
  }
  get deviceAddress(): number {
    return this.deviceHigh * 0x1_0000_0000 + this.deviceLow;
  }

  /** True when the queue is ready and no ring error has stopped it. */
  get usable(): boolean {
    return this.ready && !this.broken;
  }

  /** Back to the state after a device reset (section 4.2.3.1: QueueReady reads 0). */
  reset(): void {
    this.size = this.maxSize;
    this.ready = false;
    this.descLow = this.descHigh = 0;
    this.driverLow = this.driverHigh = 0;
    this.deviceLow = this.deviceHigh = 0;
    this.eventIdx = false;
    this.indirect = false;
    this.lastAvail = 0;
    this.usedIdx = 0;
    this.signalledUsed = null;
    this.broken = false;
  }

  /** QueueReady 1 after `validate` passed: the rings start empty. */
  enable(): void {
    this.ready = true;
    this.lastAvail = 0;
    this.usedIdx = 0;
    this.signalledUsed = null;
  }

  /** QueueReady 0: the driver takes the queue back; its registers may be rewritten. */
  disable(): void {
    this.ready = false;
  }

  /** Stops serving the queue after a device error, until the next reset. */
  halt(): void {
    this.broken = true;
  }

  /**
   * Checks the size and ring placement the driver chose, before the queue goes ready. Returns the
   * error kind and a detail, or null when the queue can be used.
   */
  validate(): [VirtioErrorKind, string] | null {
    const n = this.size;
    if (n === 0 || n > this.maxSize || (n & (n - 1)) !== 0) {
      return ['bad-queue-size', `queue size ${n} (max ${this.maxSize}, power of two required)`];
    }
    const areas: [string, number, number, number, number][] = [
      ['descriptor table', this.descHigh, this.descLow, DESCRIPTOR_SIZE * n, 16],
      ['driver area', this.driverHigh, this.driverLow, 6 + 2 * n, 2],
      ['device area', this.deviceHigh, this.deviceLow, 6 + 8 * n, 4],
    ];
    for (const [name, high, low, length, align] of areas) {
      const address = high * 0x1_0000_0000 + low;
      if (high > MAX_SAFE_HIGH_WORD || address + length > this.memory.ramEnd) {
        return ['ring-out-of-range', `${name} at 0x${address.toString(16)}+${length} is outside guest RAM`];
      }
      if (low % align !== 0) {
        return ['ring-out-of-range', `${name} at 0x${address.toString(16)} is not ${align}-byte aligned`];
      }
      // Below ramEnd there may still be holes (MMIO, ROM); ring fields are read one by one later.
      if (!isAllRam(this.memory, address, length)) {
        return ['ring-out-of-range', `${name} at 0x${address.toString(16)}+${length} is not all RAM`];
      }
    }
    return null;
  }

  /**
   * Takes the next available descriptor chain, or null when there is none (or the queue is not
   * usable). A malformed ring or chain breaks the queue and reports through `onError`.
   */
  pop(): DescriptorChain | null {
    if (!this.usable) return null;
    const avail = this.driverAddress;
    const availIdx = this.memory.read16(avail + 2);
    const pending = (availIdx - this.lastAvail) & 0xffff;
    if (pending > this.size) {
      return this.fail('avail-index-jump', `avail.idx ${availIdx} is ${pending} entries ahead of ${this.lastAvail} (queue size ${this.size})`);
    }
    if (pending === 0) {
      this.publishAvailEvent();
      return null;
    }
    const head = this.memory.read16(avail + 4 + 2 * (this.lastAvail % this.size));
    const chain = this.walk(head);
    if (chain === null) return null;
    this.lastAvail = (this.lastAvail + 1) & 0xffff;
    this.publishAvailEvent();
    return chain;
  }

  /** Returns a chain to the driver: `written` is how many bytes the device wrote into it. */
  pushUsed(chain: DescriptorChain, written: number): void {
    if (!this.ready) return;
    const used = this.deviceAddress;
    const entry = used + 4 + 8 * (this.usedIdx % this.size);
    this.memory.write32(entry, chain.head);
    this.memory.write32(entry + 4, written >>> 0);
    this.usedIdx = (this.usedIdx + 1) & 0xffff;
    this.memory.write16(used + 2, this.usedIdx);
  }

  /**
   * Whether the driver wants a used-buffer interrupt for the entries added since the last call
   * (section 2.7.10: avail.flags NO_INTERRUPT, or used_event with VIRTIO_F_EVENT_IDX).
   */
  shouldInterrupt(): boolean {
    if (!this.ready) return false;
    const now = this.usedIdx;
    const before = this.signalledUsed;
    this.signalledUsed = now;
    if (before === now) return false;
    const avail = this.driverAddress;
    if (!this.eventIdx) return (this.memory.read16(avail) & VIRTQ_AVAIL_F_NO_INTERRUPT) === 0;
    if (before === null) return true;
    // vring_need_event: interrupt when used_event lies in the window of entries just added.
    const usedEvent = this.memory.read16(avail + 4 + 2 * this.size);
    return ((now - usedEvent - 1) & 0xffff) < ((now - before) & 0xffff);
  }

  /** With EVENT_IDX, avail_event tells the driver which avail index to notify the device at next. */
  private publishAvailEvent(): void {
    if (this.eventIdx) this.memory.write16(this.deviceAddress + 4 + 8 * this.size, this.lastAvail);
  }

  private fail(kind: VirtioErrorKind, detail: string): null {
    this.broken = true;
    this.onError(kind, detail);
    return null;
  }

  /** Walks the chain starting at `head` (section 2.7.5), following at most one indirect table. */
  private walk(head: number): DescriptorChain | null {
    const memory = this.memory;
    const ramEnd = memory.ramEnd;
    const chain = new DescriptorChain(head);
    let table = this.descAddress;
    let tableSize = this.size;
    let inIndirect = false;
    let index = head;
    let seen = 0;
    for (;;) {
      if (index >= tableSize) {
        return this.fail('descriptor-index-out-of-range', `descriptor ${index} in a table of ${tableSize}`);
      }
      // Each table holds at most `tableSize` distinct descriptors, so a longer walk is a loop.
      if (++seen > tableSize) {
        return this.fail('chain-too-long', `chain from head ${head} is longer than ${tableSize} descriptors`);
      }
      const at = table + DESCRIPTOR_SIZE * index;
      const addrLow = memory.read32(at);
      const addrHigh = memory.read32(at + 4);
      const length = memory.read32(at + 8);
      const flags = memory.read16(at + 12);
      const next = memory.read16(at + 14);
      const address = addrHigh * 0x1_0000_0000 + addrLow;
      const inRam = addrHigh <= MAX_SAFE_HIGH_WORD && address + length <= ramEnd;

      if (flags & VIRTQ_DESC_F_INDIRECT) {
        if (inIndirect || flags & VIRTQ_DESC_F_NEXT) {
          return this.fail('nested-indirect', `indirect descriptor ${index} inside an indirect table or with NEXT`);
        }
        if (!this.indirect) {
          return this.fail('bad-indirect-table', `indirect descriptor ${index} without VIRTIO_F_INDIRECT_DESC`);
        }
        const entries = length / DESCRIPTOR_SIZE;
        if (length === 0 || !Number.isInteger(entries) || entries > this.size) {
          return this.fail('bad-indirect-table', `indirect table of ${length} bytes (queue size ${this.size})`);
        }
        // Its descriptors are read field by field like the rings: a hole would turn those reads
        // into MMIO reads of whatever device sits there, so the whole table must be RAM.
        if (!inRam || address % DESCRIPTOR_SIZE !== 0 || !isAllRam(memory, address, length)) {
          return this.fail('buffer-out-of-range', `indirect table at 0x${address.toString(16)}+${length}`);
        }
        // The indirect table replaces the rest of the chain (section 2.7.5.3.2).
        table = address;
        tableSize = entries;
        inIndirect = true;
        index = 0;
        seen = 0;
        continue;
      }

      if (!inRam) {
        return this.fail('buffer-out-of-range', `buffer at 0x${address.toString(16)}+${length} is outside guest RAM`);
      }
      if (flags & VIRTQ_DESC_F_WRITE) {
        chain.writable.push({ address, length });
        chain.writableLength += length;
      } else {
        if (chain.writable.length > 0) {
          return this.fail('readable-after-writable', `readable descriptor ${index} after a writable one`);
        }
        chain.readable.push({ address, length });
        chain.readableLength += length;
      }
      if ((flags & VIRTQ_DESC_F_NEXT) === 0) return chain;
      index = next;
    }
  }
}
