// Grant tables v1 (grant_table.h): the guest's table lives in hypervisor frames it maps itself
// (setup_table); each entry {u16 flags, u16 domid, u32 frame} lets one domain reach one frame. The
// back ends here are domain 0 and map grants through `map`, checked as Xen's map_grant_ref checks.
import type { PhysicalMemory } from '@ringvisor/mmu';
import {
  BACKEND_DOMID, GNTST_bad_gntref, GNTST_general_error, GNTST_okay, GNTST_permission_denied, GTF_permit_access,
  GTF_reading, GTF_readonly, GTF_type_mask, GTF_writing, PAGE_SIZE,
} from '../abi.js';
import { TYPE_WRITABLE, type FrameTable } from '../frames.js';

const ENTRY_SIZE = 8;
const ENTRIES_PER_FRAME = PAGE_SIZE / ENTRY_SIZE;

export interface GrantMapping {
  readonly ref: number;
  /** Machine address of the granted frame. */
  readonly address: number;
  readonly writable: boolean;
}

export class GrantTable {
  /** Frames the guest has set up (0 until setup_table). */
  frames = 0;

  constructor(
    private readonly memory: PhysicalMemory,
    private readonly tableFrames: readonly number[],
    private readonly domainFrames: FrameTable,
  ) {}

  get maxFrames(): number {
    return this.tableFrames.length;
  }

  /** setup_table: the machine frames of the first `count` table frames, or a GNTST status. */
  setup(count: number): number[] | number {
    if (count > this.tableFrames.length) return GNTST_general_error;
    this.frames = Math.max(this.frames, count);
    return this.tableFrames.slice(0, count);
  }

  private entryAddress(ref: number): number {
    return this.tableFrames[Math.floor(ref / ENTRIES_PER_FRAME)] * PAGE_SIZE + (ref % ENTRIES_PER_FRAME) * ENTRY_SIZE;
  }

  /** Maps grant `ref` for domain 0; `write` asks for write access. A GNTST status on refusal. */
  map(ref: number, write: boolean): GrantMapping | number {
    if (!Number.isInteger(ref) || ref < 0 || ref >= this.frames * ENTRIES_PER_FRAME) return GNTST_bad_gntref;
    const at = this.entryAddress(ref);
    const flags = this.memory.read16(at);
    const domid = this.memory.read16(at + 2);
    const frame = this.memory.read32(at + 4) >>> 0;
    if ((flags & GTF_type_mask) !== GTF_permit_access || domid !== BACKEND_DOMID) return GNTST_permission_denied;
    if (write && (flags & GTF_readonly) !== 0) return GNTST_permission_denied;
    if (!this.domainFrames.ownedByDomain(frame)) return GNTST_general_error;
    // A back end writing the frame holds it as a writable page, as Xen's grant map does: a page
    // table or GDT page cannot be granted for writing, nor become one while mapped.
    if (write && !this.domainFrames.getType(frame, TYPE_WRITABLE)) return GNTST_general_error;
    this.memory.write16(at, flags | (write ? GTF_writing | GTF_reading : GTF_reading));
    return { ref, address: frame * PAGE_SIZE, writable: write };
  }

  unmap(mapping: GrantMapping): number {
    if (mapping.writable) this.domainFrames.putType(mapping.address / PAGE_SIZE);
    const at = this.entryAddress(mapping.ref);
    this.memory.write16(at, this.memory.read16(at) & ~(GTF_reading | GTF_writing));
    return GNTST_okay;
  }
}
