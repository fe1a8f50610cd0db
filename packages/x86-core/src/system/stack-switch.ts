import { throwFault } from '../fault.js';
import type { SystemCpu } from './cpu-view.js';
import { type Descriptor, readDescriptor } from './descriptor.js';
import { SS_FAULT, TS } from './vectors.js';

/**
 * Checks the SS taken from the TSS for a privilege change to `cpl` (SDM Vol. 3A 6.12.1 and the
 * INT/CALL pseudo-code): #TS for a null, out-of-table, mis-typed or mis-privileged selector, #SS when
 * not present. The selector's RPL is checked before its descriptor is read (a read that can #PF), as
 * the INT pseudo-code orders it. Leaves the descriptor in `into`.
 */
export function checkInnerStack(cpu: SystemCpu, selector: number, cpl: number, into: Descriptor, ext: number): void {
  const error = (selector & 0xfffc) | ext;
  if ((selector & 0xfffc) === 0) throwFault(TS, ext);
  if ((selector & 3) !== cpl) throwFault(TS, error);
  if (!readDescriptor(cpu, selector, into)) throwFault(TS, error);
  if (into.dpl !== cpl || !into.isWritableData) throwFault(TS, error);
  if (!into.present) throwFault(SS_FAULT, error);
}
