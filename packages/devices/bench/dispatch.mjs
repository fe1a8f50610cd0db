// Prints the cost of the hot device paths (per access, built dist/): run `pnpm build && pnpm bench`.
// Figures from a shared machine are noisy; compare runs on one machine, not against thresholds.
import {
  PortIoBus, MmioDispatchBus, PostCodePort, Pit, Uart16550, BufferSerialBackend, DualPic,
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
