// The block back end (blkback's job) on a host disk: requests from the guest's blkif ring
// (io/blkif.h: 32 slots after a 64-byte header, laid out by the front end's ABI), data in granted
// frames, responses on the same ring, notifications by event channel. A ring whose producer claims
// more than 32 outstanding requests is bogus: processing halts there, as blkback halts.
import type { PhysicalMemory } from '@ringvisor/mmu';
import type { PvBlockDevice } from '@ringvisor/vmm-api';
import type { GrantMapping, GrantTable } from './grant-table.js';

const REQ_PROD = 0;
const REQ_EVENT = 4;
const RSP_PROD = 8;
const RSP_EVENT = 12;
const RING = 64;
export const BLKIF_RING_SIZE = 32;

/**
 * Where a request's fields lie for each front-end ABI (the `protocol` node): blkif_request's u64s
 * are 4-aligned on i386 and 8-aligned on x86-64. A response is {u64 id, u8 op, s16 status at 10}
 * in both; a slot is the larger of the two structures.
 */
export interface BlkifLayout {
  readonly slot: number;
  readonly id: number;
  readonly sector: number;
  readonly segments: number;
}
/** A Map, not an object: the name comes from the guest, and `constructor` must not find anything. */
export const BLKIF_PROTOCOLS: ReadonlyMap<string, BlkifLayout> = new Map([
  ['x86_32-abi', { slot: 108, id: 4, sector: 12, segments: 20 }],
  ['x86_64-abi', { slot: 112, id: 8, sector: 16, segments: 24 }],
]);
const MAX_SEGMENTS = 11;
const SECTOR = 512;

const OP_READ = 0;
const OP_WRITE = 1;
const OP_FLUSH = 3;
const STATUS_OKAY = 0;
const STATUS_ERROR = -1;
const STATUS_EOPNOTSUPP = -2;

export interface BlkifEvents {
  notify(): void;
  refuse(): void;
  countRequest(): void;
}

export class BlkifBackend {
  private reqCons = 0;
  private rspProd = 0;
  private halted = false;
  private readonly sector = new Uint8Array(SECTOR);

  constructor(
    private readonly memory: PhysicalMemory,
    private readonly ring: GrantMapping,
    private readonly grants: GrantTable,
    private readonly disk: PvBlockDevice,
    private readonly events: BlkifEvents,
    private readonly layout: BlkifLayout,
  ) {}

  get sectors(): number {
    return Math.floor(this.disk.size / SECTOR);
  }

  /** The front end notified: serve every request it produced. */
  kick(): void {
    if (this.halted) return;
    const m = this.memory;
    const base = this.ring.address;
    const prod = m.read32(base + REQ_PROD) >>> 0;
    if (((prod - this.reqCons) >>> 0) > BLKIF_RING_SIZE) {
      this.events.refuse();
      this.halted = true;
      return;
    }
    const oldRsp = this.rspProd;
    const { slot: size, id } = this.layout;
    while (this.reqCons !== prod) {
      const slot = base + RING + (this.reqCons % BLKIF_RING_SIZE) * size;
      this.reqCons = (this.reqCons + 1) >>> 0;
      this.events.countRequest();
      const op = m.read8(slot);
      const idLo = m.read32(slot + id);
      const idHi = m.read32(slot + id + 4);
      const status = this.serve(slot, op);
      const rsp = base + RING + (this.rspProd % BLKIF_RING_SIZE) * size;
      m.write32(rsp, idLo);
      m.write32(rsp + 4, idHi);
      m.write8(rsp + 8, op);
      m.write16(rsp + 10, status & 0xffff);
      this.rspProd = (this.rspProd + 1) >>> 0;
    }
    m.write32(base + REQ_EVENT, (this.reqCons + 1) >>> 0);
    if (this.rspProd === oldRsp) return;
    m.write32(base + RSP_PROD, this.rspProd);
    // RING_PUSH_RESPONSES_AND_CHECK_NOTIFY: notify when rsp_event lies in the range just produced.
    const rspEvent = m.read32(base + RSP_EVENT) >>> 0;
    if (((this.rspProd - rspEvent) >>> 0) < ((this.rspProd - oldRsp) >>> 0)) this.events.notify();
  }

  private serve(slot: number, op: number): number {
    const m = this.memory;
    if (op === OP_FLUSH) {
      this.disk.flush();
      return STATUS_OKAY;
    }
    if (op !== OP_READ && op !== OP_WRITE) return STATUS_EOPNOTSUPP;
    if (op === OP_WRITE && this.disk.readOnly) return STATUS_ERROR;
    const segments = m.read8(slot + 1);
    if (segments === 0 || segments > MAX_SEGMENTS) return STATUS_ERROR;
    const sectorLo = m.read32(slot + this.layout.sector) >>> 0;
    const sectorHi = m.read32(slot + this.layout.sector + 4) >>> 0;
    let sector = sectorHi * 2 ** 32 + sectorLo;
    const total = this.sectors;
    // Check every segment (grant and range) before any data moves.
    const plan: { mapping: GrantMapping; first: number; last: number }[] = [];
    let status = STATUS_OKAY;
    let count = 0;
    for (let i = 0; i < segments; i++) {
      const seg = slot + this.layout.segments + i * 8;
      const gref = m.read32(seg) >>> 0;
      const first = m.read8(seg + 4);
      const last = m.read8(seg + 5);
      if (first > last || last > 7) {
        status = STATUS_ERROR;
        break;
      }
      // Reading from the disk writes the guest's frame.
      const mapping = this.grants.map(gref, op === OP_READ);
      if (typeof mapping === 'number') {
        this.events.refuse();
        status = STATUS_ERROR;
        break;
      }
      plan.push({ mapping, first, last });
      count += last - first + 1;
    }
    if (status === STATUS_OKAY && sector + count > total) status = STATUS_ERROR;
    if (status === STATUS_OKAY) {
      for (const { mapping, first, last } of plan) {
        for (let s = first; s <= last; s++, sector++) {
          const address = mapping.address + s * SECTOR;
          if (op === OP_READ) {
            this.disk.read(sector * SECTOR, this.sector);
            m.writeBytes(address, this.sector);
          } else {
            m.readBytes(address, this.sector);
            this.disk.write(sector * SECTOR, this.sector);
          }
        }
      }
    }
    for (const { mapping } of plan) this.grants.unmap(mapping);
    return status;
  }
}
