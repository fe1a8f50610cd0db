// Port 0x80, the POST diagnostic port: firmware writes progress codes there (a POST card shows
// them) and Linux writes it for I/O delays. Keeps the last code for the VMM to show.
import type { AccessSize } from '@ringvisor/vmm-api';
import type { BusRange } from '../bus/access.js';

/** The POST port; also the port Linux writes for io_delay(). */
export const POST_CODE_PORT = 0x80;

export class PostCodePort {
  /** An 8-bit ISA device: the bus splits wider accesses into bytes. */
  readonly byteWide = true;
  readonly ports: readonly BusRange[] = [{ base: POST_CODE_PORT, length: 1 }];
  /** The last byte written, or -1 before any write. */
  lastCode = -1;
  /** Writes seen (Linux's io_delay makes many). */
  writes = 0;

  /** Reads return the latched code, as POST-card latches on most chipsets do (0xff before any write). */
  ioRead(_port: number, _size: AccessSize): number {
    return this.lastCode < 0 ? 0xff : this.lastCode;
  }

  ioWrite(_port: number, _size: AccessSize, value: number): void {
    this.lastCode = value & 0xff;
    this.writes++;
  }
}
