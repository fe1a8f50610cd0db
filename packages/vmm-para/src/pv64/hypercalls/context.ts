import type { ConsoleBackend } from '../../backends/console.js';
import type { GrantTable } from '../../backends/grant-table.js';
import type { DomainTime } from '../../time.js';
import type { SmpHost } from '../../hypercalls/context.js';
import type { Domain64 } from '../domain.js';

/**
 * A hypercall's six argument registers (RDI, RSI, RDX, R10, R8, R9) as dword halves, so a 64-bit
 * value (a page-table entry with NX) is never rounded; `num` gives the signed value as a number,
 * exact for addresses, counts and small negatives.
 */
export class Args64 {
  readonly lo = new Int32Array(6);
  readonly hi = new Int32Array(6);

  num(i: number): number {
    return this.hi[i] * 0x1_0000_0000 + (this.lo[i] >>> 0);
  }

  /** The low 32 bits, unsigned (an `unsigned int` argument: the upper half is ignored, as C truncates). */
  u32(i: number): number {
    return this.lo[i] >>> 0;
  }
}

/** What a 64-bit hypercall handler works on. */
export interface HypercallContext64 {
  readonly domain: Domain64;
  readonly time: DomainTime;
  /** The domain's own grant table (setup_table, query_size). */
  readonly grants: GrantTable;
  readonly console: ConsoleBackend | null;
  /** Inside a multicall: no second multicall, no iret. */
  readonly nested: boolean;
  /** The domain's vCPUs (vcpu_op names them). */
  readonly smp: SmpHost<HypercallContext64>;
  /** Asks for a continuation: the guest re-executes the call with these argument registers. */
  continueWith(args: number[]): void;
  consoleWrite(bytes: Uint8Array): void;
}
