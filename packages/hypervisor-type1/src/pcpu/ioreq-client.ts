// The vCPU's side of the device model: port I/O, MMIO and INTA become requests in the pCPU's
// control block, answered by the hypervisor's device models on the main thread (Xen's ioreq
// server, with the hypervisor in dom0's place). The vCPU waits for the answer, as a real vCPU waits
// for its bus cycle; the interrupt line is a shared word it reads without asking.
import type { AccessSize, InterruptController, IoBus, MmioBus } from '@ringvisor/vmm-api';
import {
  CTRL_ADDRESS, CTRL_DOMAIN, CTRL_KIND, CTRL_REQUEST, CTRL_RESPONSE, CTRL_SIZE, CTRL_VALUE, IOREQ_INTA, IOREQ_MMIO_READ,
  IOREQ_MMIO_WRITE, IOREQ_PORT_READ, IOREQ_PORT_WRITE, LINE_INTR,
} from './protocol.js';

/** How long one wait for the hypervisor lasts before it looks again (ms); it never gives up. */
const WAIT_MS = 1000;

/** What an undriven bus reads (all ones in the access's width). */
const ALL_ONES = [0, 0xff, 0xffff, 0, 0xffffffff];

/**
 * Only accesses a device model claims travel to the hypervisor; the rest get the undriven bus's
 * answer here (firmware-table scans read kilobytes of empty space a word at a time).
 */
export class IoreqClient implements InterruptController {
  readonly ports: IoBus = {
    read: (port: number, size: AccessSize) => this.portClaimed(port, size) ? this.request(IOREQ_PORT_READ, port, size, 0) : ALL_ONES[size],
    write: (port: number, size: AccessSize, value: number) => {
      if (this.portClaimed(port, size)) this.request(IOREQ_PORT_WRITE, port, size, value);
    },
  };
  readonly mmio: MmioBus = {
    read: (address: number, size: AccessSize) => this.mmioClaimed(address) ? this.request(IOREQ_MMIO_READ, address, size, 0) : ALL_ONES[size],
    write: (address: number, size: AccessSize, value: number) => {
      if (this.mmioClaimed(address)) this.request(IOREQ_MMIO_WRITE, address, size, value);
    },
  };

  constructor(
    private readonly ctrl: Int32Array, private readonly domain: number, private readonly lines: Int32Array,
    private readonly claimedPorts: Uint8Array, private readonly mmioWindows: readonly { readonly base: number; readonly end: number }[],
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

  /** Posts one request and waits for its answer (the request's sequence number in CTRL_RESPONSE). */
  private request(kind: number, address: number, size: number, value: number): number {
    const c = this.ctrl;
    c[CTRL_KIND] = kind;
    c[CTRL_DOMAIN] = this.domain;
    c[CTRL_ADDRESS] = address;
    c[CTRL_SIZE] = size;
    c[CTRL_VALUE] = value;
    const sequence = (Atomics.load(c, CTRL_REQUEST) + 1) | 0;
    Atomics.store(c, CTRL_REQUEST, sequence);
    Atomics.notify(c, CTRL_REQUEST);
    for (;;) {
      const answered = Atomics.load(c, CTRL_RESPONSE);
      if (answered === sequence) return c[CTRL_VALUE] >>> 0;
      Atomics.wait(c, CTRL_RESPONSE, answered, WAIT_MS);
    }
  }
}
