// Segment descriptors under Xen's x86-32 PV rules (arch/x86/x86_32/mm.c check_descriptor): the
// guest never gets a DPL-0 descriptor, never a system descriptor but a call gate into its own
// segments, and never a segment reaching the hypervisor's region (a granular limit is truncated
// below it, anything else refused). Also the hypervisor's reserved GDT entries and the IDT it owns.
import {
  FIRST_RESERVED_GDT_ENTRY, FLAT_RING1_CS, FLAT_RING1_DS, FLAT_RING3_CS, FLAT_RING3_DS, HYPERVISOR_CS, HYPERVISOR_DS,
  HYPERVISOR_VIRT_START, PAGE_SIZE,
} from './abi.js';

const SEG_P = 1 << 15;
const SEG_DPL = 3 << 13;
const SEG_S = 1 << 12;
const SEG_CODE = 1 << 11;
const SEG_EC = 1 << 10;
const SEG_TYPE = 0xf << 8;
const SEG_G = 1 << 23;

/** Xen's VALID_CODESEL: a call gate may only lead to the guest's own ring-1 code. */
function validCodeSelector(selector: number): boolean {
  if (selector === FLAT_RING1_CS) return true;
  return ((selector >>> 3) < FIRST_RESERVED_GDT_ENTRY || (selector & 4) !== 0) && (selector & 3) === 1;
}

/** check_descriptor: null when refused, else the (possibly limit-truncated) descriptor words. */
/** A ring-0 selector an x86-32 guest names becomes its ring-1 one (Xen's fixup_guest_code/stack_selector). */
export const fixupSelector = (selector: number): number => ((selector & 3) === 0 ? (selector | 1) : selector) & 0xffff;

export function checkDescriptor(lo: number, hi: number): [number, number] | null {
  lo >>>= 0;
  hi >>>= 0;
  if ((hi & SEG_P) === 0) return [lo, hi];
  if ((hi & SEG_DPL) === 0) return null;
  if ((hi & SEG_S) === 0) {
    // System descriptors: only call gates (type 0xc) to the guest's own code, reserved bits clear.
    if ((hi & SEG_TYPE) !== 0xc00) return null;
    if (!validCodeSelector(lo >>> 16)) return null;
    if ((hi & 0xe0) !== 0) return null;
    return [lo, hi];
  }
  const base = ((hi & 0xff000000) | ((hi & 0xff) << 16) | (lo >>> 16)) >>> 0;
  if (base >= HYPERVISOR_VIRT_START - PAGE_SIZE) return null;
  let limit = ((hi & 0xf0000) | (lo & 0xffff)) + 1;
  if ((hi & SEG_G) !== 0) limit *= PAGE_SIZE;
  // Xen's arithmetic is 32-bit: a segment "wraps" when base + limit overflows.
  const sum = (base + limit) % 2 ** 32;
  let truncated: number;
  if ((hi & (SEG_CODE | SEG_EC)) === SEG_EC) {
    // Expand-down data: valid offsets lie above the limit, so it must wrap past 4 GiB to stay clear.
    if (sum <= base) return [lo, hi];
    truncated = (2 ** 32 - ((base & ~0xfff) >>> 0)) % 2 ** 32;
  } else {
    if (sum > base && sum <= HYPERVISOR_VIRT_START) return [lo, hi];
    truncated = HYPERVISOR_VIRT_START - base;
  }
  // Too hard to truncate a byte-granular limit safely: Xen refuses it.
  if ((hi & SEG_G) === 0) return null;
  const pages = (Math.floor(truncated / PAGE_SIZE) - 1) & 0xfffff;
  return [((lo & ~0xffff) | (pages & 0xffff)) >>> 0, ((hi & ~0xf0000) | (pages & 0xf0000)) >>> 0];
}

/** Encodes a flat-style descriptor: `access` is the P/DPL/S/type byte, `flags` the G/D/L/AVL nibble. */
export function descriptor(base: number, limit: number, access: number, flags: number): [number, number] {
  const lo = ((limit & 0xffff) | ((base & 0xffff) << 16)) >>> 0;
  const hi = (((base >>> 16) & 0xff) | (access << 8) | (limit & 0xf0000) | (flags << 20) | (base & 0xff000000)) >>> 0;
  return [lo, hi];
}

/** The guest-usable limit of the flat selectors, in pages: everything below the hypervisor. */
const GUEST_FLAT_LIMIT = (HYPERVISOR_VIRT_START >>> 12) - 1;

/**
 * The hypervisor's reserved GDT entries (Xen's gdt_table from 0xe000), by selector. Their accessed
 * bits are set already, so the CPU never writes the hypervisor's GDT page when the guest loads them.
 */
export const RESERVED_DESCRIPTORS: readonly [selector: number, lo: number, hi: number][] = [
  [HYPERVISOR_CS, ...descriptor(0, 0xfffff, 0x9b, 0xc)],
  [HYPERVISOR_DS, ...descriptor(0, 0xfffff, 0x93, 0xc)],
  [FLAT_RING1_CS, ...descriptor(0, GUEST_FLAT_LIMIT, 0xbb, 0xc)],
  [FLAT_RING1_DS, ...descriptor(0, GUEST_FLAT_LIMIT, 0xb3, 0xc)],
  [FLAT_RING3_CS, ...descriptor(0, GUEST_FLAT_LIMIT, 0xfb, 0xc)],
  [FLAT_RING3_DS, ...descriptor(0, GUEST_FLAT_LIMIT, 0xf3, 0xc)],
];

/** A 32-bit interrupt gate to the hypervisor's code with DPL 0 (software INT from rings 1-3 raises #GP). */
export function hypervisorGate(): [number, number] {
  return [(HYPERVISOR_CS << 16) >>> 0, 0x8e00];
}

/** A loaded segment register's hidden part, as vmm-api and the CPU keep it. */
export interface HiddenSegment {
  base: number;
  limit: number;
  access: number;
}

/** Access rights (VMX layout: descriptor bits 40-47 and 52-55) and byte limit of a descriptor. */
export function hiddenOf(lo: number, hi: number): HiddenSegment {
  const base = ((hi & 0xff000000) | ((hi & 0xff) << 16) | (lo >>> 16)) >>> 0;
  let limit = ((hi & 0xf0000) | (lo & 0xffff)) >>> 0;
  if ((hi & SEG_G) !== 0) limit = ((limit << 12) | 0xfff) >>> 0;
  return { base, limit, access: ((hi >>> 8) & 0xf0ff) | 1 };
}
