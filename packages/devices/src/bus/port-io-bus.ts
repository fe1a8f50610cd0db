// The x86 port-I/O space: 65536 byte-wide ports. Dispatch is one typed-array lookup (port → slot)
// because every IN/OUT exit goes through here.
import type { AccessSize, IoBus, PortIoHandler } from '@ringvisor/vmm-api';
import { allOnes, truncate, type BusRange } from './access.js';

const PORT_COUNT = 0x10000;

/** A device that knows which ports it decodes, so it can be registered in one call. */
export interface PortIoDevice extends PortIoHandler {
  readonly ports: readonly BusRange[];
  /**
   * An 8-bit ISA device: the bus splits 16- and 32-bit accesses into byte accesses to consecutive
   * ports (each going to whoever claims that port), as the ISA bridge does.
   */
  readonly byteWide?: boolean;
}

/**
 * Routes IN/OUT by the first port of the access. A byte-wide device gets wide accesses split into
 * bytes; any other device gets the access whole, even where it runs past the end of its range.
 * Unclaimed reads answer all ones of the access size; unclaimed writes are dropped; both counted.
 */
export class PortIoBus implements IoBus {
  /** Reads of ports no device claims (answered with all ones). */
  unclaimedReads = 0;
  /** Writes to ports no device claims (dropped). */
  unclaimedWrites = 0;
  /** The last unclaimed port accessed, or -1: the first thing to look at when a guest probes. */
  lastUnclaimedPort = -1;

  /** Slot per port: 0 = unclaimed, n = handlers[n - 1]. */
  private readonly slots = new Uint16Array(PORT_COUNT);
  private readonly handlers: PortIoHandler[] = [];
  /** Per port: 1 when the claiming device is byte-wide. */
  private readonly byteWide = new Uint8Array(PORT_COUNT);

  /**
   * Claims ports [base, base + length) for `handler`. Overlapping an existing claim or leaving the
   * 64K space is a wiring error of the host, so it throws.
   */
  register(base: number, length: number, handler: PortIoHandler, byteWide = false): void {
    if (!Number.isInteger(base) || !Number.isInteger(length) || base < 0 || length < 1 || base + length > PORT_COUNT) {
      throw new RangeError(`port range 0x${base.toString(16)}+${length} is outside the 64K port space`);
    }
    for (let port = base; port < base + length; port++) {
      if (this.slots[port] !== 0) {
        throw new Error(`port 0x${port.toString(16)} is already claimed`);
      }
    }
    let slot = this.handlers.indexOf(handler) + 1;
    if (slot === 0) {
      this.handlers.push(handler);
      slot = this.handlers.length;
    }
    this.slots.fill(slot, base, base + length);
    this.byteWide.fill(byteWide ? 1 : 0, base, base + length);
  }

  /** Registers every range a device declares in its `ports`. */
  registerDevice(device: PortIoDevice): void {
    for (const range of device.ports) this.register(range.base, range.length, device, device.byteWide === true);
  }

  /** The handler that claims `port`, or undefined. */
  handlerAt(port: number): PortIoHandler | undefined {
    const slot = this.slots[port & 0xffff];
    return slot === 0 ? undefined : this.handlers[slot - 1];
  }

  read(port: number, size: AccessSize): number {
    port &= 0xffff;
    const slot = this.slots[port];
    if (slot === 0) {
      this.unclaimedReads++;
      this.lastUnclaimedPort = port;
      return allOnes(size);
    }
    if (size !== 1 && this.byteWide[port] === 1) return this.readBytes(port, size);
    return truncate(this.handlers[slot - 1].ioRead(port, size), size);
  }

  write(port: number, size: AccessSize, value: number): void {
    port &= 0xffff;
    const slot = this.slots[port];
    if (slot === 0) {
      this.unclaimedWrites++;
      this.lastUnclaimedPort = port;
      return;
    }
    if (size !== 1 && this.byteWide[port] === 1) {
      for (let i = 0; i < size; i++) this.write((port + i) & 0xffff, 1, value >>> (8 * i));
      return;
    }
    this.handlers[slot - 1].ioWrite(port, size, truncate(value, size));
  }

  private readBytes(port: number, size: AccessSize): number {
    let value = 0;
    for (let i = size - 1; i >= 0; i--) value = (value << 8) | this.read((port + i) & 0xffff, 1);
    return value >>> 0;
  }
}
