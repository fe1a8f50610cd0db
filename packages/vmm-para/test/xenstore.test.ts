// The xenstore back end driven byte by byte through its ring page, as Linux's xenbus writes it:
// a header, a notification, then the payload (notified only when the ring looked empty), watches
// with their first event, transactions, and hostile rings and requests.
import { PhysicalMemory } from '@ringvisor/mmu';
import { beforeEach, describe, expect, it } from 'vitest';
import {
  XENSTORE_TRANSACTION_QUOTA, XENSTORE_WATCH_QUOTA, XS_DIRECTORY, XS_MKDIR, XS_READ, XS_RM, XS_TRANSACTION_END, XS_TRANSACTION_START,
  XS_UNWATCH, XS_WATCH, XS_WATCH_EVENT, XS_WRITE, Xenstore,
} from '../src/backends/xenstore.js';

const PAGE = 0x1000;
const REQ_CONS = PAGE + 2048;
const REQ_PROD = PAGE + 2052;
const RSP_CONS = PAGE + 2056;
const RSP_PROD = PAGE + 2060;

interface Message { type: number; reqId: number; tx: number; body: string }

class Front {
  readonly memory = new PhysicalMemory({ regions: [{ base: 0, size: 0x10000 }] });
  readonly store: Xenstore;
  notifications = 0;
  refusals = 0;
  /** What a back end watching the domain's control/ and data/ nodes saw, as path=value. */
  written: string[] = [];
  private reqId = 1;
  private readonly received: number[] = [];

  constructor() {
    this.store = new Xenstore(this.memory, PAGE, 1, {
      notify: () => { this.notifications++; },
      refuse: () => { this.refusals++; },
      countRequest: () => undefined,
    });
    for (const dir of ['control', 'data']) {
      this.store.watch(`/local/domain/1/${dir}`, (path) => {
        this.written.push(`${path}=${this.store.read(path) ?? '(removed)'}`);
      });
    }
    this.store.tree.set('/local/domain/1/name', 'guest');
    this.store.tree.set('/local/domain/1/device/vbd/768/backend', '/local/domain/0/backend/vbd/1/768');
  }

  /** Writes bytes into the request ring (no notification). */
  put(bytes: Uint8Array): void {
    let prod = this.memory.read32(REQ_PROD) >>> 0;
    for (const byte of bytes) this.memory.write8(PAGE + (prod++ % 1024), byte);
    this.memory.write32(REQ_PROD, prod >>> 0);
  }

  encode(type: number, payload: string, tx = 0): Uint8Array {
    const bytes = new TextEncoder().encode(payload);
    const message = new Uint8Array(16 + bytes.length);
    const view = new DataView(message.buffer);
    view.setUint32(0, type, true);
    view.setUint32(4, this.reqId++, true);
    view.setUint32(8, tx, true);
    view.setUint32(12, bytes.length, true);
    message.set(bytes, 16);
    return message;
  }

  /** Everything in the response ring, consumed. */
  replies(): Message[] {
    const m = this.memory;
    let cons = m.read32(RSP_CONS) >>> 0;
    const prod = m.read32(RSP_PROD) >>> 0;
    const bytes = this.received;
    while (cons !== prod) bytes.push(m.read8(PAGE + 1024 + (cons++ % 1024)));
    m.write32(RSP_CONS, cons);
    const out: Message[] = [];
    // A reply may arrive in pieces: whole ones are taken, the rest waits for its bytes.
    while (bytes.length >= 16) {
      const view = new DataView(Uint8Array.from(bytes.slice(0, 16)).buffer);
      const len = view.getUint32(12, true);
      if (bytes.length < 16 + len) break;
      out.push({ type: view.getUint32(0, true), reqId: view.getUint32(4, true), tx: view.getUint32(8, true), body: String.fromCharCode(...bytes.slice(16, 16 + len)) });
      bytes.splice(0, 16 + len);
    }
    return out;
  }

  /** One request, streamed through the ring with a kick per ringful: its replies (and any watch events). */
  ask(type: number, payload: string, tx = 0): Message[] {
    const message = this.encode(type, payload, tx);
    for (let at = 0; at < message.length;) {
      const room = 1024 - ((this.memory.read32(REQ_PROD) - this.memory.read32(REQ_CONS)) >>> 0);
      this.put(message.subarray(at, at + room));
      at += room;
      this.store.kick();
    }
    return this.replies();
  }

  body(type: number, payload: string, tx = 0): string {
    return this.ask(type, payload, tx)[0].body;
  }
}

describe('xenstore', () => {
  let f: Front;
  beforeEach(() => {
    f = new Front();
  });

  it('takes a header notified on its own and answers once the payload follows without a second notification', () => {
    // Linux's xb_write: header, notify (the ring was empty), payload, no notify (the ring was not empty
    // by the time it looked), unless the store had already consumed the header.
    const message = f.encode(XS_READ, 'name\0');
    f.put(message.subarray(0, 16));
    f.store.kick();
    expect(f.memory.read32(REQ_CONS)).toBe(16);
    expect(f.replies()).toEqual([]);
    f.put(message.subarray(16, 18));
    f.store.kick();
    f.put(message.subarray(18));
    f.store.kick();
    expect(f.memory.read32(REQ_CONS)).toBe(message.length);
    expect(f.replies()).toEqual([{ type: XS_READ, reqId: 1, tx: 0, body: 'guest' }]);
    // The consumed bytes were signalled, so a writer waiting for room wakes.
    expect(f.notifications).toBeGreaterThan(0);
  });

  it('reads parents as empty nodes, lists children, writes, makes and removes nodes below its home only', () => {
    expect(f.body(XS_READ, 'device/vbd\0')).toBe('');
    expect(f.body(XS_DIRECTORY, 'device\0')).toBe('vbd\0');
    expect(f.body(XS_WRITE, 'control/feature-poweroff\x001')).toBe('OK\0');
    expect(f.written).toEqual(['/local/domain/1/control/feature-poweroff=1']);
    expect(f.body(XS_MKDIR, 'data\0')).toBe('OK\0');
    expect(f.body(XS_READ, '/local/domain/1/data\0')).toBe('');
    expect(f.body(XS_MKDIR, 'data\0')).toBe('OK\0');
    expect(f.body(XS_RM, 'control\0')).toBe('OK\0');
    expect(f.body(XS_READ, 'control/feature-poweroff\0')).toBe('ENOENT\0');
    // A missing node under an existing parent removes fine; under a missing one it is ENOENT.
    expect(f.body(XS_RM, 'data/none\0')).toBe('OK\0');
    expect(f.body(XS_RM, 'nothing/here\0')).toBe('ENOENT\0');
    expect(f.body(XS_WRITE, '/local/domain/0/backend/vbd/1/768/state\x004')).toBe('EACCES\0');
    expect(f.body(XS_RM, '/local/domain/0\0')).toBe('EACCES\0');
    expect(f.body(XS_MKDIR, '/local/domain/2/x\0')).toBe('EACCES\0');
  });

  it('fires a watch once when set, then on changes at or below it, with relative paths for relative watches', () => {
    expect(f.ask(XS_WATCH, 'device\0tok\0')).toEqual([
      { type: XS_WATCH, reqId: 1, tx: 0, body: 'OK\0' },
      { type: XS_WATCH_EVENT, reqId: 0, tx: 0, body: 'device\0tok\0' },
    ]);
    expect(f.ask(XS_WATCH, '/local/domain/1/memory/target\0abs\0').map((m) => m.body)).toEqual(['OK\0', '/local/domain/1/memory/target\0abs\0']);
    const events = f.ask(XS_WRITE, 'device/vif/0/state\x001').filter((m) => m.type === XS_WATCH_EVENT);
    expect(events.map((m) => m.body)).toEqual(['device/vif/0/state\0tok\0']);
    expect(f.ask(XS_WRITE, 'other\x001').filter((m) => m.type === XS_WATCH_EVENT)).toEqual([]);
    // A back end's write is heard too.
    f.store.publish('/local/domain/1/memory/target', '262144');
    expect(f.replies().map((m) => m.body)).toEqual(['/local/domain/1/memory/target\0abs\0']);
    // Removing a parent fires watches below it.
    expect(f.ask(XS_RM, 'memory\0').filter((m) => m.type === XS_WATCH_EVENT).map((m) => m.body)).toEqual(['/local/domain/1/memory/target\0abs\0']);
    expect(f.body(XS_WATCH, 'device\0tok\0')).toBe('EEXIST\0');
    expect(f.body(XS_UNWATCH, 'device\0tok\0')).toBe('OK\0');
    expect(f.body(XS_UNWATCH, 'device\0tok\0')).toBe('ENOENT\0');
    expect(f.ask(XS_WRITE, 'device/vif/0/state\x002').filter((m) => m.type === XS_WATCH_EVENT)).toEqual([]);
    expect(f.ask(XS_WATCH, '@releaseDomain\0r\0').map((m) => m.body)).toEqual(['OK\0', '@releaseDomain\0r\0']);
  });

  it('keeps a transaction apart until it commits, and drops it on abort', () => {
    const tx = Number(f.body(XS_TRANSACTION_START, '\0').replace('\0', ''));
    expect(tx).toBeGreaterThan(0);
    expect(f.body(XS_WRITE, 'data/a\x00inside', tx)).toBe('OK\0');
    expect(f.body(XS_READ, 'data/a\0', tx)).toBe('inside');
    expect(f.body(XS_READ, 'data/a\0')).toBe('ENOENT\0');
    expect(f.body(XS_DIRECTORY, 'data\0', tx)).toBe('a\0');
    expect(f.body(XS_RM, 'name\0', tx)).toBe('OK\0');
    expect(f.body(XS_READ, 'name\0', tx)).toBe('ENOENT\0');
    expect(f.body(XS_READ, 'name\0')).toBe('guest');
    expect(f.body(XS_TRANSACTION_END, 'T\0', tx)).toBe('OK\0');
    expect(f.body(XS_READ, 'data/a\0')).toBe('inside');
    expect(f.body(XS_READ, 'name\0')).toBe('ENOENT\0');
    expect(f.body(XS_READ, 'data/a\0', tx)).toBe('ENOENT\0');

    const aborted = Number(f.body(XS_TRANSACTION_START, '\0').replace('\0', ''));
    expect(aborted).not.toBe(tx);
    f.body(XS_WRITE, 'data/b\x00never', aborted);
    expect(f.body(XS_TRANSACTION_END, 'F\0', aborted)).toBe('OK\0');
    expect(f.body(XS_READ, 'data/b\0')).toBe('ENOENT\0');
  });

  it('fires a back end\'s watch once a change is committed, its own writes answered after the reply', () => {
    // A back end that answers the front end's state with its own, which the guest watches.
    f.store.watch('/local/domain/1/data/state', () => f.store.publish('/local/domain/0/backend/x/state', '4'));
    expect(f.ask(XS_WATCH, '/local/domain/0/backend/x/state\0be\0').map((m) => m.body)).toEqual(['OK\0', '/local/domain/0/backend/x/state\0be\0']);
    const tx = Number(f.body(XS_TRANSACTION_START, '\0').replace('\0', ''));
    f.body(XS_WRITE, 'data/state\x003', tx);
    expect(f.written).toEqual([]);
    expect(f.ask(XS_TRANSACTION_END, 'T\0', tx).map((m) => [m.type, m.body])).toEqual([
      [XS_TRANSACTION_END, 'OK\0'], [XS_WATCH_EVENT, '/local/domain/0/backend/x/state\0be\0'],
    ]);
    expect(f.written).toEqual(['/local/domain/1/data/state=3']);
    f.written = [];
    const aborted = Number(f.body(XS_TRANSACTION_START, '\0').replace('\0', ''));
    f.body(XS_WRITE, 'data/state\x004', aborted);
    f.body(XS_TRANSACTION_END, 'F\0', aborted);
    f.body(XS_WRITE, 'elsewhere\x001');
    expect(f.written).toEqual([]);
    f.body(XS_RM, 'data\0');
    expect(f.written).toEqual(['/local/domain/1/data=(removed)']);
  });

  it('answers bad requests with xenstored\'s errors', () => {
    expect(f.body(99, '')).toBe('ENOSYS\0');
    expect(f.body(XS_READ, 'name\0', 12345)).toBe('ENOENT\0');
    expect(f.body(XS_TRANSACTION_END, 'T\0')).toBe('EINVAL\0');
    expect(f.body(XS_WRITE, 'no-value')).toBe('EINVAL\0');
    expect(f.body(XS_WATCH, 'path-only\0')).toBe('EINVAL\0');
    for (const path of ['a//b', 'a/', 'bad path', 'x\u00e9', `${'p/'.repeat(2000)}x`]) expect(f.body(XS_WRITE, `${path}\x001`), path).toBe('EINVAL\0');
    for (let i = 0; i < XENSTORE_TRANSACTION_QUOTA; i++) expect(f.ask(XS_TRANSACTION_START, '\0')[0].type).toBe(XS_TRANSACTION_START);
    expect(f.body(XS_TRANSACTION_START, '\0')).toBe('ENOSPC\0');
    for (let i = 0; i < XENSTORE_WATCH_QUOTA; i++) f.ask(XS_WATCH, `w\0${i}\0`);
    expect(f.body(XS_WATCH, 'w\0extra\0')).toBe('E2BIG\0');
    expect(f.refusals).toBe(0);
  });

  it('treats a payload length over XENSTORE_PAYLOAD_MAX or indices beyond the ring as a broken ring', () => {
    const message = f.encode(XS_WRITE, 'x\0y');
    new DataView(message.buffer).setUint32(12, 4097, true);
    f.put(message);
    f.store.kick();
    expect(f.refusals).toBe(1);
    expect(f.replies()).toEqual([]);
    // Broken for good: later requests are not read.
    f.put(f.encode(XS_READ, 'name\0'));
    f.store.kick();
    expect(f.replies()).toEqual([]);

    const g = new Front();
    g.memory.write32(REQ_PROD, 5000);
    g.store.kick();
    expect(g.refusals).toBe(1);
    expect(g.memory.read32(REQ_CONS)).toBe(0);
  });

  it('stops reading requests while the guest leaves its replies unread, and resumes when it reads them', () => {
    // Requests keep coming and nobody drains the response ring: the store stops taking requests
    // once its reply queue is full, so the host keeps a bounded amount for the guest.
    const m = f.memory;
    const room = () => 1024 - ((m.read32(REQ_PROD) - m.read32(REQ_CONS)) >>> 0);
    let sent = 0;
    for (let round = 0; round < 20; round++) {
      while (room() >= 21) {
        f.put(f.encode(XS_READ, 'name\0'));
        sent++;
      }
      f.store.kick();
    }
    expect(room()).toBeLessThan(21);
    expect(sent).toBeLessThan(400);
    let answered = 0;
    for (let round = 0; round < 200 && answered < sent; round++) {
      answered += f.replies().length;
      f.store.kick();
    }
    expect(answered).toBe(sent);
    expect(m.read32(REQ_CONS)).toBe(m.read32(REQ_PROD));
  });
});

describe('xenstore control/shutdown (the toolstack asks the guest to shut down)', () => {
  let f: Front;
  beforeEach(() => {
    f = new Front();
    f.store.populateHome('guest');
  });
  const events = (messages: Message[]) => messages.filter((m) => m.type === XS_WATCH_EVENT).map((m) => m.body);

  it('seeds the control directory at build and fires the guest\'s watch when dom0 writes a request, which the guest clears in a transaction', () => {
    expect(f.body(XS_READ, 'domid\0')).toBe('1');
    expect(f.body(XS_DIRECTORY, 'control\0')).toBe('');
    expect(f.body(XS_READ, 'control\0')).toBe('');
    // The guest may write below control: its feature flags, as Linux advertises them.
    expect(f.body(XS_WRITE, 'control/feature-poweroff\x001')).toBe('OK\0');
    // The watch fires once when set (no request yet: the node is missing).
    expect(events(f.ask(XS_WATCH, 'control/shutdown\0shutdown\0'))).toEqual(['control/shutdown\0shutdown\0']);
    expect(f.body(XS_READ, 'control/shutdown\0')).toBe('ENOENT\0');
    const before = f.notifications;
    f.store.requestShutdown('poweroff');
    // Queued and signalled on the store's port: a blocked guest wakes for it.
    expect(f.notifications).toBeGreaterThan(before);
    expect(events(f.replies())).toEqual(['control/shutdown\0shutdown\0']);
    // Acknowledged as Linux's xen/manage.c does: read and cleared inside one transaction.
    const tx = Number(f.body(XS_TRANSACTION_START, '\0').replace('\0', ''));
    expect(f.body(XS_READ, 'control/shutdown\0', tx)).toBe('poweroff');
    expect(f.body(XS_WRITE, 'control/shutdown\0', tx)).toBe('OK\0');
    // The commit fires the guest's own watch (xenstored fires a change's watches before its answer).
    expect(f.ask(XS_TRANSACTION_END, 'T\0', tx).map((m) => m.body)).toEqual(['control/shutdown\0shutdown\0', 'OK\0']);
    expect(f.body(XS_READ, 'control/shutdown\0')).toBe('');
    expect(f.store.tree.get('/local/domain/1/control/shutdown')).toBe('');

    f.store.requestShutdown('reboot');
    expect(events(f.replies())).toEqual(['control/shutdown\0shutdown\0']);
    expect(f.body(XS_READ, 'control/shutdown\0')).toBe('reboot');
    // Only the toolstack's requests: anything else is the caller's mistake, not a value for the guest.
    expect(() => f.store.requestShutdown('halt' as 'poweroff')).toThrow(RangeError);
    expect(f.store.tree.get('/local/domain/1/control/shutdown')).toBe('reboot');
    expect(f.refusals).toBe(0);
  });

  it('leaves a request in the node for a guest with no watch, which sees it when it sets one', () => {
    f.store.requestShutdown('poweroff');
    expect(f.replies()).toEqual([]);
    expect(events(f.ask(XS_WATCH, '/local/domain/1/control\0abs\0'))).toEqual(['/local/domain/1/control\0abs\0']);
    expect(f.body(XS_READ, '/local/domain/1/control/shutdown\0')).toBe('poweroff');
  });

  it('keeps the guest inside its own home: no writes, removals or commits into dom0\'s or another domain\'s control nodes', () => {
    expect(events(f.ask(XS_WATCH, '/local/domain/2/control/shutdown\0other\0'))).toEqual(['/local/domain/2/control/shutdown\0other\0']);
    f.ask(XS_WATCH, 'control/shutdown\0mine\0');
    for (const path of ['/local/domain/0/control/shutdown', '/local/domain/2/control/shutdown', '/local/domain/10/control/shutdown',
      '/local/domain/1x/control/shutdown', '/local/domain', '/local/domain/1', '/control/shutdown']) {
      expect(f.body(XS_WRITE, `${path}\0poweroff`), path).toBe('EACCES\0');
      expect(f.body(XS_MKDIR, `${path}\0`), path).toBe('EACCES\0');
      expect(f.body(XS_RM, `${path}\0`), path).toBe('EACCES\0');
    }
    // Relative paths that would climb out, or smuggle a second path after a NUL, are not paths.
    for (const path of ['../2/control/shutdown', 'control/../../0/control/shutdown', './control/shutdown', 'control//shutdown']) {
      expect(f.body(XS_WRITE, `${path}\0poweroff`), path).toBe('EINVAL\0');
    }
    // A value may hold NULs: it is all one value of the guest's own node.
    expect(f.ask(XS_WRITE, 'control/shutdown\0/local/domain/2/control/shutdown\0poweroff').map((m) => m.body)).toEqual(['control/shutdown\0mine\0', 'OK\0']);
    expect(f.body(XS_READ, 'control/shutdown\0')).toBe('/local/domain/2/control/shutdown\0poweroff');
    // Inside a transaction the write is refused as it is made, so a commit carries nothing foreign.
    const tx = Number(f.body(XS_TRANSACTION_START, '\0').replace('\0', ''));
    expect(f.body(XS_WRITE, '/local/domain/2/control/shutdown\0poweroff', tx)).toBe('EACCES\0');
    expect(f.ask(XS_TRANSACTION_END, 'T\0', tx).map((m) => m.body)).toEqual(['OK\0']);
    expect([...f.store.tree.keys()].filter((p) => !p.startsWith('/local/domain/1/'))).toEqual([]);
    // The watch on another domain's node heard nothing: only its own first event.
    f.store.requestShutdown('poweroff');
    expect(events(f.replies())).toEqual(['control/shutdown\0mine\0']);
  });

  it('bounds the events queued for a guest that never drains its ring, and drops them for a ring it broke', () => {
    f.ask(XS_WATCH, 'control/shutdown\0tok\0');
    for (let i = 0; i < 400; i++) f.store.requestShutdown('poweroff');
    expect(f.refusals).toBeGreaterThan(0);
    let heard = 0;
    for (let round = 0; round < 100; round++) {
      heard += events(f.replies()).length;
      f.store.kick();
    }
    expect(heard).toBeGreaterThan(256);
    expect(heard).toBeLessThan(400);

    const g = new Front();
    g.store.populateHome('guest');
    g.ask(XS_WATCH, 'control/shutdown\0tok\0');
    const bad = g.encode(XS_WRITE, 'x\0y');
    new DataView(bad.buffer).setUint32(12, 4097, true);
    g.put(bad);
    g.store.kick();
    expect(g.refusals).toBe(1);
    const prod = g.memory.read32(RSP_PROD);
    g.store.requestShutdown('poweroff');
    expect(g.memory.read32(RSP_PROD)).toBe(prod);
    expect(g.store.tree.get('/local/domain/1/control/shutdown')).toBe('poweroff');
  });
});
