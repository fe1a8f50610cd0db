// Machine frames as the hypervisor accounts for them: who owns each one, and what type it has
// while it has one (Xen's page_info type_info): a frame is used as a page directory (L2), a page
// table (L1), descriptor table (GDT page) or mapped writable, never two at once. A type lasts as
// long as its count; validation happens when a frame takes a page-table or GDT type, so what the
// CPU walks or loads has always been checked, and a typed frame is never writable by the guest.

/** Who a frame belongs to. */
export const OWNER_NONE = 0;
/** The domain's memory (in its mfn_list). */
export const OWNER_DOMAIN = 1;
/** A hypervisor page the domain may map (shared_info, grant-table frames): never a page table. */
export const OWNER_SHARED = 2;

export const TYPE_NONE = 0;
export const TYPE_WRITABLE = 1;
export const TYPE_L1 = 2;
export const TYPE_L2 = 3;
export const TYPE_SEGDESC = 4;
/** The upper levels of 4-level paging (64-bit PV only). */
export const TYPE_L3 = 5;
export const TYPE_L4 = 6;

export type FrameType = typeof TYPE_WRITABLE | typeof TYPE_L1 | typeof TYPE_L2 | typeof TYPE_SEGDESC | typeof TYPE_L3 | typeof TYPE_L4;

/** Validates a frame that takes a checked type, and drops what validation took when it loses it. */
export interface TypeValidator {
  /** False refuses the type (the frame stays untyped). */
  validate(mfn: number, type: FrameType): boolean;
  release(mfn: number, type: FrameType): void;
}

export class FrameTable {
  readonly owner: Uint8Array;
  readonly type: Uint8Array;
  readonly count: Uint32Array;
  readonly pinned: Uint8Array;
  /** Machine-to-physical table (MMU_MACHPHYS_UPDATE writes it); -1: no pseudo-physical frame. */
  readonly m2p: Int32Array;
  /** Set when a frame lost its writable or page-table type: stale translations must go. */
  typeDropped = false;

  constructor(readonly frames: number, private readonly validator: TypeValidator) {
    this.owner = new Uint8Array(frames);
    this.type = new Uint8Array(frames);
    this.count = new Uint32Array(frames);
    this.pinned = new Uint8Array(frames);
    this.m2p = new Int32Array(frames).fill(-1);
  }

  /** True for a frame number the domain owns (every guest-supplied mfn goes through here). */
  ownedByDomain(mfn: number): boolean {
    return Number.isInteger(mfn) && mfn >= 0 && mfn < this.frames && this.owner[mfn] === OWNER_DOMAIN;
  }

  /** True for a frame the domain may map at all. */
  mappable(mfn: number): boolean {
    return Number.isInteger(mfn) && mfn >= 0 && mfn < this.frames && this.owner[mfn] !== OWNER_NONE;
  }

  /** Takes one reference of `type` (Xen's get_page_type): false when the frame has another type or fails validation. */
  getType(mfn: number, type: FrameType): boolean {
    if (!this.mappable(mfn)) return false;
    if (type !== TYPE_WRITABLE && this.owner[mfn] !== OWNER_DOMAIN) return false;
    const count = this.count[mfn];
    if (count === 0) {
      // Claim the type before validating, so that a table referring to itself as another type fails.
      this.type[mfn] = type;
      this.count[mfn] = 1;
      if (type !== TYPE_WRITABLE && !this.validator.validate(mfn, type)) {
        this.type[mfn] = TYPE_NONE;
        this.count[mfn] = 0;
        return false;
      }
      return true;
    }
    if (this.type[mfn] !== type || count === 0xffffffff) return false;
    this.count[mfn] = count + 1;
    return true;
  }

  /** Drops one reference (Xen's put_page_type); the last one releases a table's references. */
  putType(mfn: number): void {
    const count = this.count[mfn];
    if (count === 0) throw new Error(`frame ${mfn}: type reference count underflow`);
    if (count > 1) {
      this.count[mfn] = count - 1;
      return;
    }
    const type = this.type[mfn] as FrameType;
    if (type !== TYPE_WRITABLE) this.validator.release(mfn, type);
    this.count[mfn] = 0;
    this.type[mfn] = TYPE_NONE;
    this.typeDropped = true;
  }
}

/** MMUEXT_PIN_Ln_TABLE: the frame takes (and validates as) `type` and keeps it while pinned; false if refused or pinned already. */
export function pinTable(table: FrameTable, mfn: number, type: FrameType): boolean {
  if (!table.ownedByDomain(mfn) || !table.getType(mfn, type)) return false;
  if (table.pinned[mfn]) {
    table.putType(mfn);
    return false;
  }
  table.pinned[mfn] = 1;
  return true;
}

/** MMUEXT_UNPIN_TABLE: a table still in use keeps its type through its other references (a base, an entry). */
export function unpinTable(table: FrameTable, mfn: number): boolean {
  if (!table.ownedByDomain(mfn) || table.pinned[mfn] !== 1) return false;
  table.pinned[mfn] = 0;
  table.putType(mfn);
  return true;
}

/**
 * set_gdt's retyping: `next` frames (the domain's) take the GDT type, then `old` ones lose it; null,
 * with nothing changed, when one of `next` cannot.
 */
export function retypeGdtFrames(table: FrameTable, old: readonly number[], next: readonly number[]): number[] | null {
  const taken: number[] = [];
  for (const mfn of next) {
    if (!table.ownedByDomain(mfn) || !table.getType(mfn, TYPE_SEGDESC)) {
      for (const t of taken) table.putType(t);
      return null;
    }
    taken.push(mfn);
  }
  for (const frame of old) table.putType(frame);
  return taken;
}
