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

export class IoreqClient implements InterruptController {
  readonly ports: IoBus = {
    read: (port: number, size: AccessSize) => this.request(IOREQ_PORT_READ, port, size, 0),
    write: (port: number, size: AccessSize, value: number) => { this.request(IOREQ_PORT_WRITE, port, size, value); },
  };
  readonly mmio: MmioBus = {
    read: (address: number, size: AccessSize) => this.request(IOREQ_MMIO_READ, address, size, 0),
    write: (address: number, size: AccessSize, value: number) => { this.request(IOREQ_MMIO_WRITE, address, size, value); },
  };

  constructor(private readonly ctrl: Int32Array, private readonly domain: number, private readonly lines: Int32Array) {}

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
