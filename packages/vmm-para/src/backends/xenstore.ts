// A small xenstore (xenstored's job) over the guest's ring (io/xs_wire.h): requests
// {type, req_id, tx_id, len} + payload in req[1024], replies in rsp[1024]. READ, WRITE, MKDIR, RM,
// DIRECTORY, WATCH/UNWATCH (with the event xenstored sends when a watch is set) and transactions;
// the guest changes only nodes below its own /local/domain/<id>/. Requests are taken from the ring
// as their bytes arrive, a header before its payload, as xenstored reads them (a front end that
// notifies once per empty ring depends on it). Back ends watch nodes too (`watch`), as dom0's
// drivers do through xenbus: their handlers run once the change is committed (a write, or the end
// of the transaction that made it) and the guest's reply is queued. The toolstack's side: the
// domain's own nodes seeded at build (name, domid, each vCPU's availability, the guest-writable control directory)
// and shutdown requests written to control/shutdown as dom0 writes them.
import type { PhysicalMemory } from '@ringvisor/mmu';
import type { PvShutdownReason } from '@ringvisor/vmm-api';
import { type HostWatch, type Watch, XenstoreTree } from './xenstore-tree.js';

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
/** Watches and open transactions a domain may hold (xenstored's defaults). */
export const XENSTORE_WATCH_QUOTA = 128;
export const XENSTORE_TRANSACTION_QUOTA = 10;
/** Replies queued while the guest does not drain its response ring (each answers one request). */
const REPLY_QUEUE_LIMIT = 256;
/** The control/shutdown values the toolstack writes (Linux's xen/manage.c acts on these and more). */
const SHUTDOWN_REASONS: readonly string[] = ['poweroff', 'reboot'] satisfies PvShutdownReason[];

export const XS_DIRECTORY = 1;
export const XS_READ = 2;
export const XS_WATCH = 4;
export const XS_UNWATCH = 5;
export const XS_TRANSACTION_START = 6;
export const XS_TRANSACTION_END = 7;
export const XS_WRITE = 11;
export const XS_MKDIR = 12;
export const XS_RM = 13;
export const XS_WATCH_EVENT = 15;
export const XS_ERROR = 16;

export interface XenstoreEvents {
  notify(): void;
  refuse(): void;
  countRequest(): void;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const nulTerminated = (text: string) => encoder.encode(`${text}\0`);
const KNOWN = new Set([XS_DIRECTORY, XS_READ, XS_WATCH, XS_UNWATCH, XS_TRANSACTION_START, XS_TRANSACTION_END, XS_WRITE, XS_MKDIR, XS_RM]);
/** XENSTORE_ABS_PATH_MAX. */
const PATH_MAX = 3072;

function validPath(path: string, watch: boolean): boolean {
  if (watch && /^@[A-Za-z0-9_-]+$/.test(path)) return true;
  return path.length <= PATH_MAX && /^(\/[A-Za-z0-9_@-]+)+$/.test(path);
}

export class Xenstore {
  private readonly store: XenstoreTree;
  private pendingReplies: Uint8Array[] = [];
  /** The request being read: its header, then its payload, as the bytes arrive. */
  private readonly partial = new Uint8Array(HEADER + PAYLOAD_MAX);
  private partialLength = 0;
  /** A watch set by the request being answered: its first event follows the OK. */
  private newWatch: Watch | null = null;
  /** Nodes the guest created (counted against XENSTORE_QUOTA). */
  private guestNodes = 0;
  private broken = false;
  /** Back-end watches fired by the change being made, run once it is answered. */
  private firedHostWatches: { watch: HostWatch; path: string }[] = [];

  constructor(
    private readonly memory: PhysicalMemory,
    private readonly page: number,
    private readonly domid: number,
    private readonly events: XenstoreEvents,
  ) {
    this.store = new XenstoreTree(
      (watch, path) => this.watchEvent(watch, path),
      (watch, path) => { this.firedHostWatches.push({ watch, path }); },
    );
  }

  /** The committed nodes, for the VMM to seed before the guest runs. */
  get tree(): Map<string, string> {
    return this.store.nodes;
  }

  get home(): string {
    return `/local/domain/${this.domid}`;
  }

  /** A back end's write after start: stored, and the watches on it fire. */
  publish(path: string, value: string): void {
    this.store.write(0, path, value);
    this.runHostWatches();
    this.flushReplies();
  }

  /** xl vcpu-set: cpu/N/availability of each of the domain's `vcpus`, online below `online`. */
  setVcpuAvailability(vcpus: number, online: number): void {
    for (let vcpu = 0; vcpu < vcpus; vcpu++) this.publish(`${this.home}/cpu/${vcpu}/availability`, vcpu < online ? 'online' : 'offline');
  }

  /** A back end's watch on `path` and the nodes below it (xenbus's register_xenbus_watch in dom0). */
  watch(path: string, handler: (path: string) => void): void {
    this.store.hostWatches.push({ absolute: path, handler });
  }

  /** The committed value of `path`, as a back end reads it. */
  read(path: string): string | undefined {
    return this.store.read(0, path);
  }

  private runHostWatches(): void {
    while (this.firedHostWatches.length > 0) {
      const { watch, path } = this.firedHostWatches.shift()!;
      watch.handler(path);
    }
  }

  /**
   * The domain's own nodes as the toolstack makes them at build: its name, its id, its vCPU and `control`,
   * which lies below its home so the guest may write there (feature flags, acknowledgements).
   */
  populateHome(name: string, vcpus = 1): void {
    const nodes = this.store.nodes;
    nodes.set(`${this.home}/name`, name);
    nodes.set(`${this.home}/domid`, String(this.domid));
    // Linux's xen cpu_hotplug reads each vCPU's availability at boot, as libxl writes it.
    for (let vcpu = 0; vcpu < vcpus; vcpu++) nodes.set(`${this.home}/cpu/${vcpu}/availability`, 'online');
    nodes.set(`${this.home}/control`, '');
  }

  /**
   * xl shutdown / xl reboot: dom0 writes the reason to control/shutdown and the guest's watches on
   * it fire. Only a guest that watches the node acts; the value stays there until it clears it.
   */
  requestShutdown(reason: PvShutdownReason): void {
    if (!SHUTDOWN_REASONS.includes(reason)) throw new RangeError(`'${String(reason)}' is not a shutdown request (${SHUTDOWN_REASONS.join(', ')})`);
    this.publish(`${this.home}/control/shutdown`, reason);
  }

  private absolute(path: string): string {
    return path.startsWith('/') ? path : `${this.home}/${path}`;
  }

  private mayChange(path: string): boolean {
    return path.startsWith(`${this.home}/`);
  }

  /** The guest notified its store port: take what the request ring holds, answer complete requests. */
  kick(): void {
    if (this.broken) return;
    const m = this.memory;
    let consumed = false;
    for (;;) {
      this.flushReplies();
      if (this.broken || this.pendingReplies.length >= REPLY_QUEUE_LIMIT) break;
      const cons = m.read32(this.page + REQ_CONS) >>> 0;
      const prod = m.read32(this.page + REQ_PROD) >>> 0;
      const avail = (prod - cons) >>> 0;
      if (avail > RING_SIZE) {
        this.fail();
        return;
      }
      const want = this.partialLength < HEADER ? HEADER - this.partialLength : HEADER + this.payloadLength() - this.partialLength;
      const take = Math.min(avail, want);
      if (take === 0 && want > 0) break;
      for (let i = 0; i < take; i++) this.partial[this.partialLength + i] = m.read8(this.page + REQ + ((cons + i) % RING_SIZE));
      this.partialLength += take;
      m.write32(this.page + REQ_CONS, (cons + take) >>> 0);
      consumed ||= take > 0;
      if (this.partialLength < HEADER) break;
      if (this.payloadLength() > PAYLOAD_MAX) {
        this.fail();
        return;
      }
      if (this.partialLength < HEADER + this.payloadLength()) continue;
      this.request();
    }
    // Room in the request ring for a writer that found it full.
    if (consumed) this.events.notify();
  }

  private payloadLength(): number {
    const p = this.partial;
    return (p[12] | (p[13] << 8) | (p[14] << 16) | (p[15] << 24)) >>> 0;
  }

  private fail(): void {
    this.events.refuse();
    this.broken = true;
    this.pendingReplies = [];
  }

  /** Answers the complete request in `partial`. */
  private request(): void {
    const view = new DataView(this.partial.buffer);
    const type = view.getUint32(0, true);
    const reqId = view.getUint32(4, true);
    const txId = view.getUint32(8, true);
    const payload = decoder.decode(this.partial.subarray(HEADER, HEADER + this.payloadLength()));
    this.partialLength = 0;
    this.events.countRequest();
    const [replyType, body] = this.handle(type, txId, payload);
    this.queue(replyType, reqId, txId, body);
    if (this.newWatch !== null) {
      this.watchEvent(this.newWatch, this.newWatch.absolute);
      this.newWatch = null;
    }
    this.runHostWatches();
  }

  private queue(type: number, reqId: number, txId: number, body: Uint8Array): void {
    const reply = new Uint8Array(HEADER + body.length);
    const out = new DataView(reply.buffer);
    out.setUint32(0, type, true);
    out.setUint32(4, reqId, true);
    out.setUint32(8, txId, true);
    out.setUint32(12, body.length, true);
    reply.set(body, HEADER);
    this.pendingReplies.push(reply);
  }

  private watchEvent(watch: Watch, path: string): void {
    // A guest that drains nothing gets no more: the host's memory stays bounded (requests wait too).
    if (this.pendingReplies.length >= REPLY_QUEUE_LIMIT) {
      this.events.refuse();
      return;
    }
    // A relative watch hears relative paths (xenstored strips the domain's home).
    const reported = watch.given.startsWith('/') || watch.given.startsWith('@') ? path : path.slice(this.home.length + 1);
    this.queue(XS_WATCH_EVENT, 0, 0, encoder.encode(`${reported}\0${watch.token}\0`));
  }

  private handle(type: number, tx: number, payload: string): [number, Uint8Array] {
    const error = (name: string): [number, Uint8Array] => [XS_ERROR, nulTerminated(name)];
    const ok: [number, Uint8Array] = [type, nulTerminated('OK')];
    const args = payload.split('\0');
    const store = this.store;
    if (!KNOWN.has(type)) return error('ENOSYS');
    if (tx !== 0 && !store.has(tx)) return error('ENOENT');
    // Every request names a path first (xenstored's is_valid_nodename; '@' names special watches).
    const path = args[0].startsWith('@') ? args[0] : this.absolute(args[0]);
    if (type !== XS_TRANSACTION_START && type !== XS_TRANSACTION_END && !validPath(path, type === XS_WATCH || type === XS_UNWATCH)) return error('EINVAL');
    switch (type) {
      case XS_READ: {
        const value = store.read(tx, path);
        return value === undefined ? error('ENOENT') : [XS_READ, encoder.encode(value)];
      }
      case XS_DIRECTORY: {
        if (store.read(tx, path) === undefined) return error('ENOENT');
        return [XS_DIRECTORY, encoder.encode(store.children(tx, path).map((c) => `${c}\0`).join(''))];
      }
      case XS_WRITE: case XS_MKDIR: {
        if (type === XS_WRITE && args.length < 2) return error('EINVAL');
        if (!this.mayChange(path)) return error('EACCES');
        const exists = store.read(tx, path) !== undefined;
        if (type === XS_MKDIR && exists) return ok;
        if (!exists && this.guestNodes >= XENSTORE_QUOTA) return error('ENOSPC');
        if (!exists) this.guestNodes++;
        const value = type === XS_WRITE ? payload.slice(args[0].length + 1) : '';
        store.write(tx, path, value);
        return ok;
      }
      case XS_RM: {
        if (!this.mayChange(path)) return error('EACCES');
        if (store.read(tx, path) === undefined) {
          // xenstored: removing a missing node succeeds when its parent exists.
          return store.read(tx, path.slice(0, path.lastIndexOf('/'))) === undefined ? error('ENOENT') : ok;
        }
        store.remove(tx, path);
        return ok;
      }
      case XS_WATCH: case XS_UNWATCH: {
        if (args.length < 3 || args[0] === '') return error('EINVAL');
        const token = args[1];
        const at = store.watches.findIndex((w) => w.given === args[0] && w.token === token);
        if (type === XS_UNWATCH) {
          if (at < 0) return error('ENOENT');
          store.watches.splice(at, 1);
          return ok;
        }
        if (at >= 0) return error('EEXIST');
        if (store.watches.length >= XENSTORE_WATCH_QUOTA) return error('E2BIG');
        const watch = { given: args[0], absolute: path, token };
        store.watches.push(watch);
        // xenstored fires a new watch once, after its OK, whether or not the node exists.
        this.newWatch = watch;
        return ok;
      }
      case XS_TRANSACTION_START:
        if (tx !== 0) return error('EBUSY');
        if (store.openTransactions >= XENSTORE_TRANSACTION_QUOTA) return error('ENOSPC');
        return [XS_TRANSACTION_START, nulTerminated(String(store.start()))];
      case XS_TRANSACTION_END:
        if (tx === 0 || (args[0] !== 'T' && args[0] !== 'F')) return error('EINVAL');
        store.end(tx, args[0] === 'T');
        return ok;
      default:
        return error('ENOSYS');
    }
  }

  private flushReplies(): void {
    // A ring the guest broke is dropped, as xenstored drops the connection: nothing more is written.
    if (this.broken) {
      this.pendingReplies = [];
      return;
    }
    const m = this.memory;
    let sent = false;
    while (this.pendingReplies.length > 0) {
      const reply = this.pendingReplies[0];
      const cons = m.read32(this.page + RSP_CONS) >>> 0;
      const prod = m.read32(this.page + RSP_PROD) >>> 0;
      const used = (prod - cons) >>> 0;
      if (used > RING_SIZE) {
        this.fail();
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
}
