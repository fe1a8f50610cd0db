// The vCPU's side of the device model: port I/O, MMIO and INTA become requests in the pCPU's
// control block, answered by the platform's device-model thread (Xen's ioreq server, with a
// device-model thread in dom0's place). The vCPU waits for the answer, as a real vCPU waits for its
// bus cycle. Three things need no round trip, as Xen keeps them in the hypervisor rather than in
// QEMU: the interrupt line is a shared word it reads, the POST card's latch a shared word it keeps
// (nothing else on the board depends on it), and the ACPI PM timer a function of the domain's clock
// that every thread reads alike (its status bit and SCI stay with the device model).
import { PM_TIMER_BITS, PM_TIMER_HZ, PM_TIMER_LENGTH, PM_TIMER_OFFSET } from '@ringvisor/devices';
import { ACPI_PM_BASE } from '@ringvisor/machine';
import type { AccessSize, InterruptController, IoBus, MmioBus } from '@ringvisor/vmm-api';
import { domainNs } from '../domain-clock.js';
import {
  CTRL_ADDRESS, CTRL_DOMAIN, CTRL_KIND, CTRL_REQUEST, CTRL_RESPONSE, CTRL_SIZE, CTRL_VALUE, DOORBELL_RING, IOREQ_INTA,
  IOREQ_MMIO_READ, IOREQ_MMIO_WRITE, IOREQ_PORT_READ, IOREQ_PORT_WRITE, LINE_INTR, LINE_POST,
} from './protocol.js';

/** How long one wait for the device model lasts before it looks again (ms); it never gives up. */
const WAIT_MS = 1000;

/** What an undriven bus reads (all ones in the access's width). */
const ALL_ONES = [0, 0xff, 0xffff, 0, 0xffffffff];

/** The POST code port: Linux's io_delay writes it around PIT and PIC accesses, tens of thousands of times a boot. */
export const POST_PORT = 0x80;
/** PM_TMR of the board's ACPI block: Linux's acpi_pm clocksource and its TSC calibration read it. */
const PM_TIMER_PORT = ACPI_PM_BASE + PM_TIMER_OFFSET;
const PM_TICKS_PER_NS = PM_TIMER_HZ / 1e9;
const PM_TIMER_MODULUS = 2 ** PM_TIMER_BITS;

/**
 * Only accesses a device model claims travel to the device-model thread; the rest get the undriven
 * bus's answer here (firmware-table scans read kilobytes of empty space a word at a time), and byte
 * accesses to the POST port use the latch in the line block, as the board's POST card would.
 */
export class IoreqClient implements InterruptController {
  readonly ports: IoBus = {
    read: (port: number, size: AccessSize) => {
      if (port === POST_PORT && size === 1) {
        const code = Atomics.load(this.lines, LINE_POST);
        return code < 0 ? 0xff : code;
      }
      if (port >= PM_TIMER_PORT && port + size <= PM_TIMER_PORT + PM_TIMER_LENGTH) {
        // The 24-bit count of 3.579545 MHz ticks since the domain started; the top byte reads 0.
        const ticks = Math.floor(Math.max(0, domainNs(this.epochMs)) * PM_TICKS_PER_NS) % PM_TIMER_MODULUS;
        return ((ticks >>> (8 * (port - PM_TIMER_PORT))) & ALL_ONES[size]) >>> 0;
      }
      return this.portClaimed(port, size) ? this.request(IOREQ_PORT_READ, port, size, 0) : ALL_ONES[size];
    },
    write: (port: number, size: AccessSize, value: number) => {
      if (port === POST_PORT && size === 1) Atomics.store(this.lines, LINE_POST, value & 0xff);
      else if (this.portClaimed(port, size)) this.request(IOREQ_PORT_WRITE, port, size, value);
    },
  };
  readonly mmio: MmioBus = {
    read: (address: number, size: AccessSize) => this.mmioClaimed(address) ? this.request(IOREQ_MMIO_READ, address, size, 0) : ALL_ONES[size],
    write: (address: number, size: AccessSize, value: number) => {
      if (this.mmioClaimed(address)) this.request(IOREQ_MMIO_WRITE, address, size, value);
    },
  };

  constructor(
    private readonly ctrl: Int32Array, private readonly doorbell: Int32Array, private readonly domain: number,
    private readonly lines: Int32Array, private readonly claimedPorts: Uint8Array,
    private readonly mmioWindows: readonly { readonly base: number; readonly end: number }[],
    /** The domain's epoch (domain-clock.ts): the PM timer counts from it. */
    private readonly epochMs: number,
  ) {}

  private portClaimed(port: number, size: number): boolean {
    for (let i = 0; i < size; i++) if (this.claimedPorts[(port + i) & 0xffff] !== 0) return true;
    return false;
  }

  private mmioClaimed(address: number): boolean {
    for (const w of this.mmioWindows) if (address >= w.base && address < w.end) return true;
    return false;
  }

  pending(): boolean {
    return Atomics.load(this.lines, LINE_INTR) !== 0;
  }

  acknowledge(): number {
    return this.request(IOREQ_INTA, 0, 1, 0);
  }

  /** Posts one request, rings the doorbell and waits for the answer (the request's sequence number in CTRL_RESPONSE). */
  private request(kind: number, address: number, size: number, value: number): number {
    const c = this.ctrl;
    c[CTRL_KIND] = kind;
    c[CTRL_DOMAIN] = this.domain;
    c[CTRL_ADDRESS] = address;
    c[CTRL_SIZE] = size;
    c[CTRL_VALUE] = value;
    const sequence = (Atomics.load(c, CTRL_REQUEST) + 1) | 0;
    Atomics.store(c, CTRL_REQUEST, sequence);
    Atomics.add(this.doorbell, DOORBELL_RING, 1);
    Atomics.notify(this.doorbell, DOORBELL_RING);
    for (;;) {
      const answered = Atomics.load(c, CTRL_RESPONSE);
      if (answered === sequence) return c[CTRL_VALUE] >>> 0;
      Atomics.wait(c, CTRL_RESPONSE, answered, WAIT_MS);
    }
  }
}
