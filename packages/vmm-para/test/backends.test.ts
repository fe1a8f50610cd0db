// Event channels, xenstore, grant tables and the blkif back end driven as a front end would.
import { beforeEach, describe, expect, it } from 'vitest';
import { EEXIST, EINVAL, ENOENT, EPERM, ESRCH, START_INFO } from '../src/abi.js';
import { DirectDomain, outsideDigest, paintCanary } from './direct-domain.js';
import { assembleGuest, bootGuest, haveToolchain, MemoryDisk } from './pv-harness.js';

const toolchain = haveToolchain();
const IDLE = `
_start:
  jmp _start
`;

/** Front-end side of the xenstore ring, in the store page (machine addresses). */
class StoreClient {
  private reqId = 1;
  constructor(private readonly d: DirectDomain) {}

  private get page(): number {
    return this.d.storeMfn * 4096;
  }

  request(type: number, payload: string): { type: number; body: string } {
    const m = this.d.memory;
    const bytes = new TextEncoder().encode(payload);
    const message = new Uint8Array(16 + bytes.length);
    const view = new DataView(message.buffer);
    view.setUint32(0, type, true);
    view.setUint32(4, this.reqId++, true);
    view.setUint32(12, bytes.length, true);
    message.set(bytes, 16);
    let prod = m.read32(this.page + 2052);
    for (const byte of message) m.write8(this.page + (prod++ % 1024), byte);
    m.write32(this.page + 2052, prod);
    this.d.put32(this.d.scratch, this.d.startInfo32(START_INFO.storeEvtchn));
    expect(this.d.call(32, 4, this.d.scratch)).toBe(0);
    let cons = m.read32(this.page + 2056);
    const header = Array.from({ length: 16 }, () => m.read8(this.page + 1024 + (cons++ % 1024)));
    const hv = new DataView(Uint8Array.from(header).buffer);
    const len = hv.getUint32(12, true);
    const body = Array.from({ length: len }, () => m.read8(this.page + 1024 + (cons++ % 1024)));
    m.write32(this.page + 2056, cons);
    return { type: hv.getUint32(0, true), body: String.fromCharCode(...body) };
  }
}

/** Sets up one grant-table frame and grants `mfns` to domain 0 (writable) as references 1, 2, ... */
function grantToBackend(d: DirectDomain, mfns: readonly number[]): void {
  const s = d.scratch;
  d.put32(s, 0x7ff0, 1, 0, s + 0x100);
  expect(d.call(20, 2, s, 1)).toBe(0);
  const table = d.get32(s + 0x100) * 4096;
  mfns.forEach((mfn, i) => {
    d.memory.write32(table + 8 * (i + 1), 1);
    d.memory.write32(table + 8 * (i + 1) + 4, mfn);
  });
}

/**
 * What blkfront does before it goes Initialised: grants a ring page and a data page (guest frames)
 * to domain 0 as references 1 and 2, allocates a port for domain 0, and writes ring-ref and event-channel.
 */
function offerRing(d: DirectDomain): { store: StoreClient; ringMfn: number; dataMfn: number; port: number } {
  const store = new StoreClient(d);
  const s = d.scratch;
  const ringMfn = d.domain.p2m[700];
  const dataMfn = d.domain.p2m[701];
  grantToBackend(d, [ringMfn, dataMfn]);
  d.put32(s, 0x7ff0);
  expect(d.call(32, 6, s)).toBe(0);
  const port = d.get32(s + 4);
  store.request(11, 'device/vbd/768/ring-ref\x001');
  store.request(11, `device/vbd/768/event-channel\0${port}`);
  return { store, ringMfn, dataMfn, port };
}

describe.skipIf(!toolchain)('back ends', () => {
  const image = toolchain ? assembleGuest(IDLE) : new Uint8Array();
  let d: DirectDomain;
  let disk: MemoryDisk;

  beforeEach(() => {
    disk = new MemoryDisk(new Uint8Array(64 * 512));
    d = new DirectDomain(bootGuest(image, { disk }));
  });

  it('event channels answer with Xen\'s codes', () => {
    const s = d.scratch;
    d.put32(s, 0, 0, 0);
    expect(d.call(32, 1, s)).toBe(0);
    const port = d.get32(s + 8);
    expect(port).toBeGreaterThan(2);
    expect(d.call(32, 1, s)).toBe(EEXIST);
    d.put32(s, 99, 0, 0);
    expect(d.call(32, 1, s)).toBe(EINVAL);
    d.put32(s, 0, 3, 0);
    expect(d.call(32, 1, s)).toBe(ENOENT);
    // alloc_unbound only records the remote domain (Xen checks it when that domain binds).
    d.put32(s, 0x7ff0 | (5 << 16), 0);
    expect(d.call(32, 6, s)).toBe(0);
    expect(d.get32(s + 4)).toBe(port + 1);
    d.put32(s, 1 | (5 << 16), 0);
    expect(d.call(32, 6, s)).toBe(0);
    d.put32(s, 2 | (0x7ff0 << 16), 0);
    expect(d.call(32, 6, s)).toBe(EPERM);
    for (const bad of [0, 1023, 5000, 0xffffffff]) {
      d.put32(s, bad);
      expect(d.call(32, 3, s)).toBe(EINVAL);
    }
    d.put32(s, port);
    expect(d.call(32, 4, s)).toBe(EINVAL);
    expect(d.call(32, 3, s)).toBe(0);
    expect(d.call(32, 9, s)).toBe(EINVAL);
    expect(d.call(32, 77, s)).toBe(-38);
  });

  it('binds interdomain only to its own ports left for itself (loopback); other domains do not exist for it', () => {
    const s = d.scratch;
    const bind = (dom: number, port: number) => {
      d.put32(s, dom, port, 0xdead);
      const rc = d.call(32, 0, s);
      return rc === 0 ? d.get32(s + 8) : rc;
    };
    const alloc = (remote: number) => {
      d.put32(s, 0x7ff0 | (remote << 16), 0);
      expect(d.call(32, 6, s)).toBe(0);
      return d.get32(s + 4);
    };
    const pending = (port: number) => (d.memory.read32(d.domain.sharedInfoBase + 2048 + (port >>> 5) * 4) >>> (port & 31)) & 1;
    for (const dom of [2, 5, 0x7fef, 0x7ff1]) expect(bind(dom, 1)).toBe(ESRCH);
    // Domain 0 (the back ends) leaves no port unbound for the guest; a port must be unbound and left for this domain.
    expect(bind(0, 1)).toBe(EINVAL);
    expect(bind(0x7ff0, 1)).toBe(EINVAL);
    for (const port of [0, 4095, 4096, 0xffffffff]) expect(bind(0x7ff0, port)).toBe(EINVAL);
    expect(bind(0x7ff0, alloc(5))).toBe(EINVAL);
    expect(bind(0x7ff0, alloc(0))).toBe(EINVAL);
    const a = alloc(0x7ff0);
    const b = bind(1, a);
    expect(b).toBeGreaterThan(a);
    d.put32(s, b);
    expect(d.call(32, 4, s)).toBe(0);
    expect([pending(a), pending(b)]).toEqual([1, 0]);
    d.put32(s, a);
    expect(d.call(32, 4, s)).toBe(0);
    expect(pending(b)).toBe(1);
    // Closing one end leaves the other unbound for this domain: it can be bound again.
    d.put32(s, b);
    expect(d.call(32, 3, s)).toBe(0);
    expect(bind(0x7ff0, b)).toBe(EINVAL);
    expect(bind(0x7ff0, a)).toBe(b);
  });

  it('xenstore reads, writes under the domain only, lists, and says ENOENT', () => {
    const store = new StoreClient(d);
    expect(store.request(2, 'device/vbd/768/backend\0')).toEqual({ type: 2, body: '/local/domain/0/backend/vbd/1/768' });
    expect(store.request(2, 'no/such/key\0')).toEqual({ type: 16, body: 'ENOENT\0' });
    expect(store.request(11, 'data/x\0hello')).toEqual({ type: 11, body: 'OK\0' });
    expect(store.request(2, '/local/domain/1/data/x\0')).toEqual({ type: 2, body: 'hello' });
    expect(store.request(11, '/local/domain/0/backend/vbd/1/768/state\x004')).toEqual({ type: 16, body: 'EACCES\0' });
    expect(store.request(1, 'device/vbd\0').body).toBe('768\0');
    expect(store.request(99, '').body).toBe('ENOSYS\0');
    // The per-domain node quota bounds what a guest can make the host keep.
    let refused = 0;
    for (let i = 0; i < 1100; i++) if (store.request(11, `flood/${i}\0x`).type === 16) refused++;
    expect(refused).toBe(1100 - (1000 - 1));
    expect(store.request(11, 'flood/5\0rewrite')).toEqual({ type: 11, body: 'OK\0' });
  });

  it('connects the block back end only to a port left for domain 0', () => {
    const store = new StoreClient(d);
    const s = d.scratch;
    grantToBackend(d, [d.domain.p2m[700]]);
    d.put32(s, 0x7ff0 | (5 << 16));
    expect(d.call(32, 6, s)).toBe(0);
    store.request(11, 'device/vbd/768/ring-ref\x001');
    store.request(11, `device/vbd/768/event-channel\0${d.get32(s + 4)}`);
    store.request(11, 'device/vbd/768/state\x003');
    expect(store.request(2, '/local/domain/0/backend/vbd/1/768/state\0').body).not.toBe('4');
  });

  it('serves block requests through granted pages, refusing bogus references and ranges', () => {
    const { store, ringMfn, dataMfn, port } = offerRing(d);
    const s = d.scratch;
    store.request(11, 'device/vbd/768/state\x003');
    expect(store.request(2, '/local/domain/0/backend/vbd/1/768/state\0').body).toBe('4');
    expect(store.request(2, '/local/domain/0/backend/vbd/1/768/sectors\0').body).toBe('64');

    const ring = ringMfn * 4096;
    const m = d.memory;
    const request = (slot: number, op: number, sector: number, gref: number, first: number, last: number) => {
      const at = ring + 64 + slot * 108;
      m.write8(at, op);
      m.write8(at + 1, 1);
      m.write32(at + 4, 1000 + slot);
      m.write32(at + 12, sector);
      m.write32(at + 20, gref);
      m.write8(at + 24, first);
      m.write8(at + 25, last);
    };
    const status = (slot: number) => (m.read16(ring + 64 + slot * 108 + 10) << 16) >> 16;
    for (let i = 0; i < 512; i++) m.write8(dataMfn * 4096 + 512 + i, i & 0xff);
    request(0, 1, 5, 2, 1, 1); // write sector 5 from the data page's second sector
    request(1, 0, 5, 2, 3, 3); // read it back into the fourth
    request(2, 0, 63, 2, 0, 1); // runs past the disk's end
    request(3, 0, 0, 999, 0, 0); // a bogus grant reference
    request(4, 0, 0, 2, 6, 9); // a bad sector range in the page
    request(5, 7, 0, 2, 0, 0); // an unknown operation
    m.write32(ring, 6);
    d.put32(s, port);
    const before = outsideDigest(d.domain);
    expect(d.call(32, 4, s)).toBe(0);
    expect(m.read32(ring + 8)).toBe(6);
    expect([0, 1, 2, 3, 4, 5].map(status)).toEqual([0, 0, -1, -1, -1, -2]);
    expect(m.read32(ring + 64 + 108)).toBe(1001);
    expect([...disk.bytes.subarray(5 * 512, 6 * 512)]).toEqual(Array.from({ length: 512 }, (_, i) => i & 0xff));
    expect(m.read8(dataMfn * 4096 + 3 * 512 + 7)).toBe(7);
    expect(outsideDigest(d.domain)).toBe(before);
    // A producer index beyond the ring: processing halts there, nothing is read.
    m.write32(ring, 6 + 40);
    expect(d.call(32, 4, s)).toBe(0);
    expect(m.read32(ring + 8)).toBe(6);
    expect(d.domain.stats.counters?.get('validation refusals')).toBe(2);
  });

  it('lays the ring out by the ABI the front end names, and refuses an unknown one with an error node', () => {
    const { store, ringMfn, dataMfn, port } = offerRing(d);
    const s = d.scratch;
    const backend = '/local/domain/0/backend/vbd/1/768';
    // Names an object's prototype would answer are unknown ABIs too.
    for (const protocol of ['x86_16-abi', 'constructor', '__proto__', 'toString']) {
      store.request(11, `device/vbd/768/protocol\0${protocol}`);
      store.request(11, 'device/vbd/768/state\x003');
      expect(store.request(2, `${backend}/state\0`).body).toBe('2');
      expect(store.request(2, `${backend}/error\0`).body).toBe(`unknown fe protocol ${protocol}`);
      store.request(11, 'device/vbd/768/state\x005');
    }
    // The front end corrects itself and goes Initialised again (the state changes through Closing, as blkfront's reconnect does).
    store.request(11, 'device/vbd/768/protocol\0x86_64-abi');
    store.request(11, 'device/vbd/768/state\x005');
    store.request(11, 'device/vbd/768/state\x003');
    expect(store.request(2, `${backend}/state\0`).body).toBe('4');
    expect(store.request(2, `${backend}/feature-flush-cache\0`).body).toBe('1');

    // x86_64 blkif_request: id at 8, sector at 16, segments from 24, 112-byte slots.
    const ring = ringMfn * 4096;
    const m = d.memory;
    for (let i = 0; i < 512; i++) disk.bytes[9 * 512 + i] = (i * 3) & 0xff;
    const at = ring + 64 + 112;
    m.write32(ring, 2);
    m.write8(ring + 64, 3); // slot 0: flush, no segments
    m.write32(ring + 64 + 8, 77);
    m.write8(at, 0);
    m.write8(at + 1, 1);
    m.write32(at + 8, 0x1234);
    m.write32(at + 12, 0x5678);
    m.write32(at + 16, 9);
    m.write32(at + 24, 2);
    m.write8(at + 28, 2);
    m.write8(at + 29, 2);
    d.put32(s, port);
    expect(d.call(32, 4, s)).toBe(0);
    expect(m.read32(ring + 8)).toBe(2);
    expect(m.read32(ring + 64)).toBe(77);
    expect([m.read32(at), m.read32(at + 4), m.read8(at + 8), m.read16(at + 10)]).toEqual([0x1234, 0x5678, 0, 0]);
    expect(m.read8(dataMfn * 4096 + 2 * 512 + 5)).toBe(15);
    expect(disk.flushes).toBe(1);
  });

  it('continues a long mmu_update itself and finishes every request', () => {
    paintCanary(d.domain);
    const canary = outsideDigest(d.domain);
    const base = d.scratch + 0x1000;
    const count = 1500;
    for (let i = 0; i < count; i++) d.put32(base + i * 16, d.pteAddress(d.scratch + 0x8000), 0, (d.domain.p2m[800 + (i % 50)] * 4096) | 3, 0);
    const doneAt = d.scratch;
    const first = d.guest.hypercall(1, [base, count, doneAt, 0x7ff0, 0, 0]);
    expect(first).toEqual({ continueWith: [base + 1024 * 16, (count - 1024) | 0x80000000, doneAt, 0x7ff0] });
    expect(d.get32(doneAt)).toBe(1024);
    const second = d.guest.hypercall(1, [base + 1024 * 16, ((count - 1024) | 0x80000000) >>> 0, doneAt, 0x7ff0, 0, 0]);
    expect(second).toBe(0);
    expect(d.get32(doneAt)).toBe(count);
    expect(outsideDigest(d.domain)).toBe(canary);
  });
});
