import { throwFault } from '../fault.js';
import { ESP, SS, type SystemCpu } from './cpu-view.js';
import type { Descriptor } from './descriptor.js';
import { SS_FAULT } from './vectors.js';

/**
 * A stack being pushed or popped by a control transfer before any register is committed: the
 * transfer computes every access through this cursor, and only writes ESP/SS back once nothing more
 * can fault (SDM Vol. 3A 6.12.1, 5.8.5: a faulting transfer leaves the old context intact).
 */
export class StackCursor {
  private base = 0;
  private limit = 0;
  private expandDown = false;
  private mask = 0xffffffff;
  private user = false;
  private error = 0;
  private cpu!: SystemCpu;
  /** Current stack offset (ESP or SP). */
  offset = 0;

  /** Opens the current SS:ESP. Limit violations raise #SS(errorCode) (0 or EXT for the current stack). */
  openCurrent(cpu: SystemCpu, errorCode: number): this {
    this.cpu = cpu;
    this.base = cpu.segBase[SS] >>> 0;
    this.limit = cpu.segLimit[SS] >>> 0;
    const access = cpu.segAccess[SS];
    this.expandDown = (access & 0x1c) === 0x14;
    this.mask = access & 0x4000 ? 0xffffffff : 0xffff;
    this.user = cpu.cpl === 3;
    this.error = errorCode;
    this.offset = cpu.reg32[ESP] >>> 0;
    return this;
  }

  /** Opens a stack described by a checked SS descriptor (a new stack from the TSS or the return frame). */
  openDescriptor(cpu: SystemCpu, d: Descriptor, esp: number, cpl: number, errorCode: number): this {
    this.cpu = cpu;
    this.base = d.base;
    this.limit = d.limit;
    this.expandDown = (d.type & 0xc) === 4;
    this.mask = d.hi & 0x400000 ? 0xffffffff : 0xffff;
    this.user = cpl === 3;
    this.error = errorCode;
    this.offset = esp >>> 0;
    return this;
  }

  /** ESP value to commit: only the low 16 bits change on a 16-bit stack. */
  espFor(oldEsp: number): number {
    return this.mask === 0xffff ? ((oldEsp & ~0xffff) | this.offset) >>> 0 : this.offset;
  }

  private address(offset: number, size: number): number {
    const last = offset + size - 1;
    const ok = this.expandDown
      ? offset > this.limit && last <= this.mask
      : last <= this.limit && last <= this.mask;
    if (!ok) throwFault(SS_FAULT, this.error);
    return (this.base + offset) >>> 0;
  }

  push(value: number, size: 2 | 4): void {
    this.offset = (this.offset - size) & this.mask;
    const address = this.address(this.offset >>> 0, size);
    if (size === 4) this.cpu.writeLinear32(address, value, this.user);
    else this.cpu.writeLinear16(address, value & 0xffff, this.user);
    this.offset >>>= 0;
  }

  pop(size: 2 | 4): number {
    const address = this.address(this.offset, size);
    const value = size === 4 ? this.cpu.readLinear32(address, this.user) >>> 0 : this.cpu.readLinear16(address, this.user) & 0xffff;
    this.offset = ((this.offset + size) & this.mask) >>> 0;
    return value;
  }

  /** Reads at `offset + delta` without moving (parameter copy for call gates). */
  peek(delta: number, size: 2 | 4): number {
    const offset = ((this.offset + delta) & this.mask) >>> 0;
    const address = this.address(offset, size);
    return size === 4 ? this.cpu.readLinear32(address, this.user) >>> 0 : this.cpu.readLinear16(address, this.user) & 0xffff;
  }

  skip(bytes: number): void {
    this.offset = ((this.offset + bytes) & this.mask) >>> 0;
  }
}
