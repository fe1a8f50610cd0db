// A minimal xenstore (xenstored's job) over the guest's ring (io/xs_wire.h): requests
// {type, req_id, tx_id, len} + payload in req[1024], replies in rsp[1024]. READ, WRITE and
// DIRECTORY on a small tree; the guest writes only below its own /local/domain/<id>/. Writes can
// wake a back end (the block device connects when its front end reaches Initialised).
import type { PhysicalMemory } from '@ringvisor/mmu';

const REQ = 0;
const RSP = 1024;
const RING_SIZE = 1024;
const REQ_CONS = 2048;
const REQ_PROD = 2052;
const RSP_CONS = 2056;
const RSP_PROD = 2060;
const HEADER = 16;
/** XENSTORE_PAYLOAD_MAX. */
const PAYLOAD_MAX = 4096;
/** Nodes a domain may create (xenstored's default per-domain quota): the host's memory stays bounded. */
export const XENSTORE_QUOTA = 1000;

export const XS_DIRECTORY = 1;
export const XS_READ = 2;
export const XS_WRITE = 11;
export const XS_ERROR = 16;

export interface XenstoreEvents {
  notify(): void;
  refuse(): void;
  countRequest(): void;
  /** A guest write landed (after it is stored, before the reply). */
  written(path: string, value: string): void;
}

export class Xenstore {
  readonly tree = new Map<string, string>();
  private pendingReplies: Uint8Array[] = [];
  /** Nodes the guest created (counted against XENSTORE_QUOTA). */
  private guestNodes = 0;
  private broken = false;

  constructor(
    private readonly memory: PhysicalMemory,
    private readonly page: number,
    private readonly domid: number,
    private readonly events: XenstoreEvents,
  ) {}

  get home(): string {
    return `/local/domain/${this.domid}`;
  }

  private absolute(path: string): string {
    return path.startsWith('/') ? path : `${this.home}/${path}`;
  }

  /** The guest notified its store port. */
  kick(): void {
    if (this.broken) return;
    const m = this.memory;
    for (;;) {
      this.flushReplies();
      if (this.pendingReplies.length > 0) return;
      const cons = m.read32(this.page + REQ_CONS) >>> 0;
      const prod = m.read32(this.page + REQ_PROD) >>> 0;
      const avail = (prod - cons) >>> 0;
      if (avail > RING_SIZE) {
        this.events.refuse();
        this.broken = true;
        return;
      }
      if (avail < HEADER) return;
      const header = this.readRing(REQ, cons, HEADER);
      const view = new DataView(header.buffer);
      const type = view.getUint32(0, true);
      const reqId = view.getUint32(4, true);
      const txId = view.getUint32(8, true);
      const len = view.getUint32(12, true);
      if (len > PAYLOAD_MAX) {
        this.events.refuse();
        this.broken = true;
        return;
      }
      if (avail < HEADER + len) return;
      const payload = this.readRing(REQ, (cons + HEADER) >>> 0, len);
      m.write32(this.page + REQ_CONS, (cons + HEADER + len) >>> 0);
      this.events.countRequest();
      const [replyType, body] = this.handle(type, payload);
      const reply = new Uint8Array(HEADER + body.length);
      const out = new DataView(reply.buffer);
      out.setUint32(0, replyType, true);
      out.setUint32(4, reqId, true);
      out.setUint32(8, txId, true);
      out.setUint32(12, body.length, true);
      reply.set(body, HEADER);
      this.pendingReplies.push(reply);
    }
  }

  private handle(type: number, payload: Uint8Array): [number, Uint8Array] {
    const text = new TextDecoder().decode(payload);
    const error = (name: string): [number, Uint8Array] => [XS_ERROR, new TextEncoder().encode(`${name}\0`)];
    switch (type) {
      case XS_READ: {
        const value = this.tree.get(this.absolute(text.replace(/\0.*$/s, '')));
        return value === undefined ? error('ENOENT') : [XS_READ, new TextEncoder().encode(value)];
      }
      case XS_WRITE: {
        const nul = text.indexOf('\0');
        if (nul < 0) return error('EINVAL');
        const path = this.absolute(text.slice(0, nul));
        if (!path.startsWith(`${this.home}/`)) return error('EACCES');
        const value = text.slice(nul + 1);
        if (!this.tree.has(path) && this.guestNodes >= XENSTORE_QUOTA) return error('ENOSPC');
        if (!this.tree.has(path)) this.guestNodes++;
        this.tree.set(path, value);
        this.events.written(path, value);
        return [XS_WRITE, new TextEncoder().encode('OK\0')];
      }
      case XS_DIRECTORY: {
        const dir = `${this.absolute(text.replace(/\0.*$/s, ''))}/`;
        const children = new Set<string>();
        for (const key of this.tree.keys()) if (key.startsWith(dir)) children.add(key.slice(dir.length).split('/')[0]);
        if (children.size === 0) return error('ENOENT');
        return [XS_DIRECTORY, new TextEncoder().encode([...children].map((c) => `${c}\0`).join(''))];
      }
      default:
        return error('ENOSYS');
    }
  }

  private flushReplies(): void {
    const m = this.memory;
    let sent = false;
    while (this.pendingReplies.length > 0) {
      const reply = this.pendingReplies[0];
      const cons = m.read32(this.page + RSP_CONS) >>> 0;
      const prod = m.read32(this.page + RSP_PROD) >>> 0;
      const used = (prod - cons) >>> 0;
      if (used > RING_SIZE) {
        this.events.refuse();
        this.broken = true;
        this.pendingReplies = [];
        return;
      }
      // A reply streams through the ring in as many pieces as it takes, as xenstored writes it.
      const n = Math.min(RING_SIZE - used, reply.length);
      if (n === 0) break;
      for (let i = 0; i < n; i++) m.write8(this.page + RSP + ((prod + i) % RING_SIZE), reply[i]);
      m.write32(this.page + RSP_PROD, (prod + n) >>> 0);
      if (n === reply.length) this.pendingReplies.shift();
      else this.pendingReplies[0] = reply.subarray(n);
      sent = true;
    }
    if (sent) this.events.notify();
  }

  private readRing(offset: number, index: number, length: number): Uint8Array {
    const out = new Uint8Array(length);
    for (let i = 0; i < length; i++) out[i] = this.memory.read8(this.page + offset + ((index + i) % RING_SIZE));
    return out;
  }
}
