// Prints the cost of the hot device paths (per access, built dist/): run `pnpm build && pnpm bench`.
// Figures from a shared machine are noisy; compare runs on one machine, not against thresholds.
import {
  PortIoBus, MmioDispatchBus, PostCodePort, Pit, Uart16550, BufferSerialBackend, DualPic, MemoryBlockBackend,
  VirtioBlock, VirtioMmioTransport,
} from '../dist/index.js';

const clock = { kind: 'virtual', time: 0, now() { return this.time; }, schedule: () => 1, cancel() {} };
const io = new PortIoBus();
const pic = new DualPic();
io.registerDevice(pic);
io.registerDevice(new PostCodePort());
io.registerDevice(new Pit({ clock, irq: pic.irq(0) }));
const uart = new Uart16550({ clock, irq: pic.irq(4), backend: { write: (b) => b.length } });
io.registerDevice(uart);
const stalled = new Uart16550({ clock, irq: pic.irq(3), backend: new BufferSerialBackend(0), base: 0x2f8 });
io.registerDevice(stalled);
io.write(0x3fa, 1, 0xc7);
io.write(0x2fa, 1, 0xc7);
io.write(0x43, 1, 0x34);
io.write(0x40, 1, 0x9c);
io.write(0x40, 1, 0x2e);

const mmio = new MmioDispatchBus();
const window = { mmioRead: (o) => o, mmioWrite() {} };
for (let i = 0; i < 32; i++) mmio.register(0xd000_0000 + i * 0x1000, 0x200, window);

function bench(name, iterations, body) {
  body(1000); // warm up
  const start = process.hrtime.bigint();
  body(iterations);
  const ns = Number(process.hrtime.bigint() - start) / iterations;
  console.log(`${name.padEnd(44)} ${ns.toFixed(1).padStart(7)} ns/access  (${(1e3 / ns).toFixed(1)} M/s)`);
}

const N = 5_000_000;
bench('io: OUT 0x80 (POST port)', N, (n) => { for (let i = 0; i < n; i++) io.write(0x80, 1, i); });
bench('io: IN unclaimed port', N, (n) => { for (let i = 0; i < n; i++) io.read(0x1234, 1); });
bench('io: IN 0x21 (PIC IMR)', N, (n) => { for (let i = 0; i < n; i++) io.read(0x21, 1); });
bench('io: latch + 2x IN 0x40 (PIT counter 0)', N / 4, (n) => {
  for (let i = 0; i < n; i++) { clock.time += 1000; io.write(0x43, 1, 0); io.read(0x40, 1); io.read(0x40, 1); }
});
bench('io: OUT THR to a backend taking everything', N, (n) => { for (let i = 0; i < n; i++) io.write(0x3f8, 1, i); });
bench('io: OUT THR to a stalled backend (flood)', N, (n) => { for (let i = 0; i < n; i++) io.write(0x2f8, 1, i); });
bench('io: IN LSR', N, (n) => { for (let i = 0; i < n; i++) io.read(0x3fd, 1); });
bench('mmio: read, 32 windows, same window', N, (n) => { for (let i = 0; i < n; i++) mmio.read(0xd000_5010, 4); });
bench('mmio: read, 32 windows, alternating', N, (n) => {
  for (let i = 0; i < n; i++) mmio.read(0xd000_0010 + (i & 31) * 0x1000, 4);
});
bench('pic: pending() + acknowledge() + EOI', N / 4, (n) => {
  for (let i = 0; i < n; i++) { pic.setIrq(5, true); pic.acknowledge(); io.write(0x20, 1, 0x20); pic.setIrq(5, false); }
});

// virtio-blk: one 4 KiB read request (header, data, status) per notify, through the transport,
// over a flat RAM whose views make the DMA zero-copy. Measures the per-request cost of the ring
// walk and request execution, not of any disk.
const RAM = 1 << 20;
const ramBytes = new Uint8Array(RAM);
const ramView = new DataView(ramBytes.buffer);
const guestRam = {
  ramEnd: RAM,
  read8: (a) => ramBytes[a], read16: (a) => ramView.getUint16(a, true), read32: (a) => ramView.getUint32(a, true),
  write8: (a, v) => { ramBytes[a] = v; }, write16: (a, v) => ramView.setUint16(a, v, true),
  write32: (a, v) => ramView.setUint32(a, v >>> 0, true),
  readBytes: (a, into) => { into.set(ramBytes.subarray(a, a + into.length)); return true; },
  writeBytes: (a, from) => { ramBytes.set(from, a); return true; },
  view: (a, n) => ramBytes.subarray(a, a + n),
  notifyWrite() {},
};
const disk = new VirtioBlock({ backend: new MemoryBlockBackend({ size: 1 << 20 }), queueSize: 16 });
const blk = new VirtioMmioTransport(disk, { memory: guestRam, irq: { set() {} } });
const reg = (offset, value) => blk.mmioWrite(offset, 4, value);
reg(0x070, 0); reg(0x070, 1); reg(0x070, 3);
reg(0x024, 1); reg(0x020, 1); // VIRTIO_F_VERSION_1 only
reg(0x070, 11);
const DESC = 0x1000, AVAIL = 0x2000, USED = 0x3000, HEADER = 0x4000, DATA = 0x5000, STATUS = 0x6000;
reg(0x030, 0); reg(0x038, 16);
reg(0x080, DESC); reg(0x090, AVAIL); reg(0x0a0, USED);
reg(0x044, 1); reg(0x070, 15);
for (const [i, address, length, flags] of [[0, HEADER, 16, 1], [1, DATA, 4096, 3], [2, STATUS, 1, 2]]) {
  ramView.setUint32(DESC + 16 * i, address, true);
  ramView.setUint32(DESC + 16 * i + 8, length, true);
  ramView.setUint16(DESC + 16 * i + 12, flags, true);
  ramView.setUint16(DESC + 16 * i + 14, i + 1, true);
}
let availIdx = 0;
bench('virtio-blk: 4 KiB read request + notify', N / 50, (n) => {
  for (let i = 0; i < n; i++) {
    ramView.setUint32(HEADER + 8, i & 255, true); // sector
    ramView.setUint16(AVAIL + 4 + 2 * (availIdx & 15), 0, true);
    availIdx = (availIdx + 1) & 0xffff;
    ramView.setUint16(AVAIL + 2, availIdx, true);
    reg(0x050, 0);
  }
  if (ramView.getUint16(USED + 2, true) !== availIdx || ramBytes[STATUS] !== 0) throw new Error('virtio-blk bench: request not served');
});
