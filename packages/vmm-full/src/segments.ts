// Segment truncation and descriptor compression: how a guest segment is shown to the CPU so that no
// guest access reaches the VMM area, and how a guest descriptor table is shadowed for ring 3.
import { VMM_LINEAR } from './layout.js';

/** `segAccess` bit of a segment register loaded with a null selector. */
export const UNUSABLE = 1 << 16;
const TYPE_CODE = 0x8;
const TYPE_EXPAND_DOWN = 0x4;
const ACCESS_S = 0x10;
const ACCESS_P = 0x80;
const ACCESS_DB = 0x4000;
/** An expand-down, writable, 32-bit data segment with limit 2^32-1 admits no offset at all. */
export const EMPTY_ACCESS = ACCESS_P | ACCESS_S | 0x6 | ACCESS_DB;
export const EMPTY_LIMIT = -1;

/** Result of `truncate`, reused (no allocation on the world-switch path). */
export const truncated = { limit: 0, access: 0 };

/**
 * The limit and access rights the CPU gets for a guest segment cache (base, byte limit, VMX-style
 * access rights): the same segment cut below `VMM_LINEAR`. A segment whose valid range cannot be
 * cut that way (it starts in the area, or is expand-down into it) admits no offset: every access
 * faults and the VMM emulates it on the guest's real segment.
 */
export function truncate(base: number, limit: number, access: number): void {
  truncated.access = access;
  truncated.limit = limit;
  if ((access & UNUSABLE) !== 0 || (access & ACCESS_S) === 0) return;
  const b = base >>> 0;
  const l = limit >>> 0;
  if ((access & (TYPE_CODE | TYPE_EXPAND_DOWN)) === TYPE_EXPAND_DOWN) {
    const upper = access & ACCESS_DB ? 0xffffffff : 0xffff;
    if (b + upper < VMM_LINEAR) return;
  } else {
    if (b + l < VMM_LINEAR) return;
    if (b < VMM_LINEAR) {
      truncated.limit = (VMM_LINEAR - 1 - b) | 0;
      return;
    }
  }
  truncated.limit = EMPTY_LIMIT;
  truncated.access = EMPTY_ACCESS | (access & 0x60);
}

/** Base, byte limit and VMX-style access rights of the descriptor `lo`/`hi`. */
export function descriptorBase(lo: number, hi: number): number {
  return ((lo >>> 16) | ((hi & 0xff) << 16) | (hi & 0xff000000)) >>> 0;
}

export function descriptorLimit(lo: number, hi: number): number {
  const raw = (lo & 0xffff) | (hi & 0xf0000);
  return hi & 0x800000 ? ((raw << 12) | 0xfff) >>> 0 : raw;
}

export function descriptorAccess(hi: number): number {
  return (hi >>> 8) & 0xf0ff;
}

/** Result of `shadowDescriptor`. */
export const shadowed = { lo: 0, hi: 0 };

/**
 * The descriptor the CPU uses at ring 3 in place of the guest's. Ring 3 needs no truncation: every
 * access it makes is a user access, and the VMM area is supervisor-only in every shadow root, so
 * descriptors keep their bases and limits (LSL, LAR, VERR and VERW, which run unprivileged, read
 * them as bare hardware would). Made not present, so that their use traps and the VMM emulates it
 * on the guest's table: non-conforming code below DPL 3 (the targets of gates into the kernel, which
 * must run from the TC), TSS descriptors and task gates (a task switch the hardware cannot finish).
 */
export function shadowDescriptor(lo: number, hi: number): void {
  shadowed.lo = lo;
  shadowed.hi = hi;
  const codeOrData = (hi & 0x1000) !== 0;
  const type = (hi >>> 8) & 0xf;
  const dpl = (hi >>> 13) & 3;
  const kernelCode = codeOrData && (type & 0xc) === 0x8 && dpl < 3;
  const task = !codeOrData && (type === 1 || type === 3 || type === 5 || type === 9 || type === 11);
  if (kernelCode || task) shadowed.hi = hi & ~0x8000;
}
