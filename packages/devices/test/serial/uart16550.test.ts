import { beforeEach, describe, expect, it } from 'vitest';
import { Uart16550 } from '../../src/serial/uart16550.js';
import { BufferSerialBackend } from '../../src/serial/backend.js';
import { PortIoBus } from '../../src/bus/port-io-bus.js';
import { ManualClock } from '../support/clock.js';
import { IrqRecorder } from '../support/irq.js';
import { lcg } from '../support/random.js';

const COM1 = 0x3f8;
const THR = COM1, RBR = COM1, DLL = COM1, DLM = COM1 + 1, IER = COM1 + 1, IIR = COM1 + 2, FCR = COM1 + 2;
const LCR = COM1 + 3, MCR = COM1 + 4, LSR = COM1 + 5, MSR = COM1 + 6, SCR = COM1 + 7;

let clock: ManualClock;
let irq4: IrqRecorder;
let backend: BufferSerialBackend;
let uart: Uart16550;
let bus: PortIoBus;
const outb = (port: number, value: number) => bus.write(port, 1, value);
const inb = (port: number) => bus.read(port, 1);

function setup(capacity = Infinity, inputQueueSize?: number): void {
  clock = new ManualClock();
  irq4 = new IrqRecorder();
  backend = new BufferSerialBackend(capacity);
  uart = new Uart16550({ clock, irq: irq4, backend, inputQueueSize });
  bus = new PortIoBus();
  bus.registerDevice(uart);
}

/** 115200 8N1, FIFOs cleared and on with the RX trigger at 8, DTR|RTS|OUT2, as Linux's 8250 driver leaves it. */
function initLikeLinux(ier = 0x00): void {
  outb(LCR, 0x80);
  outb(DLL, 0x01);
  outb(DLM, 0x00);
  outb(LCR, 0x03);
  outb(FCR, 0x87);
  outb(MCR, 0x0b);
  outb(IER, ier);
}

/** The polling console write: wait for THRE before every byte. */
function putsPolled(text: string): void {
  for (const c of text) {
    while ((inb(LSR) & 0x20) === 0) backend.drain();
    outb(THR, c.charCodeAt(0));
  }
}

/** Linux's serial8250 interrupt handler loop: service until IIR says no interrupt. */
function serviceIrq(received: number[]): string[] {
  const seen: string[] = [];
  for (let guard = 0; guard < 100; guard++) {
    const iir = inb(IIR);
    if (iir & 0x01) return seen;
    const id = iir & 0x0f;
    seen.push({ 0x06: 'lsr', 0x04: 'rda', 0x0c: 'timeout', 0x02: 'thre', 0x00: 'msr' }[id] ?? `?${id}`);
    if (id === 0x06) inb(LSR);
    else if (id === 0x04 || id === 0x0c) while (inb(LSR) & 0x01) received.push(inb(RBR));
    else if (id === 0x00) inb(MSR);
  }
  throw new Error('IIR never cleared');
}

beforeEach(() => setup());

describe('16550A probed and initialised like Linux', () => {
  it('identifies as a 16550A: scratch works, IIR bits 7-6 set with FIFOs on', () => {
    outb(SCR, 0xa5);
    expect(inb(SCR)).toBe(0xa5);
    expect(inb(IIR)).toBe(0x01);
    outb(FCR, 0x01);
    expect(inb(IIR) & 0xc0).toBe(0xc0);
    outb(FCR, 0x00);
    expect(inb(IIR) & 0xc0).toBe(0x00);
  });

  it('keeps the divisor latch behind DLAB', () => {
    outb(LCR, 0x80);
    outb(DLL, 0x0c);
    outb(DLM, 0x00);
    expect(inb(DLL)).toBe(0x0c);
    outb(LCR, 0x03);
    expect(uart.baudRate).toBe(9600);
    outb(IER, 0x05);
    expect(inb(IER)).toBe(0x05);
    outb(LCR, 0x83);
    expect(inb(DLM)).toBe(0x00);
    expect(inb(LCR)).toBe(0x83);
  });

  it('measures a 16-byte FIFO the way size_fifo does, in loopback', () => {
    outb(LCR, 0x80);
    outb(DLL, 0x01);
    outb(DLM, 0x00);
    outb(LCR, 0x03);
    outb(MCR, 0x10);
    outb(FCR, 0x07);
    for (let i = 0; i < 256; i++) outb(THR, i);
    let count = 0;
    while ((inb(LSR) & 0x01) && count < 256) {
      inb(RBR);
      count++;
    }
    expect(count).toBe(16);
    expect(backend.peek().length).toBe(0); // loopback keeps the line quiet
  });

  it('transmits with a polling console and keeps THRE/TEMT set once the backend has the bytes', () => {
    initLikeLinux();
    putsPolled('Linux version 6.1\n');
    expect(backend.text()).toBe('Linux version 6.1\n');
    expect(inb(LSR) & 0x60).toBe(0x60);
  });

  it('masks transmitted bytes to the word length', () => {
    initLikeLinux();
    outb(LCR, 0x02); // 7 data bits
    outb(THR, 0xff);
    expect([...backend.peek()]).toEqual([0x7f]);
  });
});

describe('16550A interrupts', () => {
  it('raises THRE as soon as ETBEI is enabled with THR empty, as serial8250_startup tests', () => {
    initLikeLinux();
    outb(IER, 0x02);
    const iir1 = inb(IIR);
    outb(IER, 0x00);
    outb(IER, 0x02);
    const iir2 = inb(IIR);
    expect(iir1 & 0x0f).toBe(0x02);
    expect(iir2 & 0x0f).toBe(0x02);
    expect(inb(IIR) & 0x0f).toBe(0x01); // reading IIR acknowledged it
  });

  it('drives TX from THRE interrupts and gates the IRQ with OUT2', () => {
    initLikeLinux(0x02);
    expect(irq4.level).toBe(true);
    expect(serviceIrq([])).toEqual(['thre']);
    expect(irq4.level).toBe(false);
    for (const c of 'abc') outb(THR, c.charCodeAt(0));
    expect(irq4.level).toBe(true);
    outb(MCR, 0x03); // OUT2 off: the pending interrupt no longer reaches IRQ 4
    expect(irq4.level).toBe(false);
    expect(inb(IIR) & 0x0f).toBe(0x02);
    outb(MCR, 0x0b);
    expect(backend.text()).toBe('abc');
  });

  it('receives with interrupts: trigger level, refill from the host queue, then character timeout', () => {
    initLikeLinux(0x01);
    const text = 'The quick brown fox jumps';
    expect(backend.type(text)).toBe(text.length);
    expect(irq4.level).toBe(true); // 16 bytes in the FIFO, over the trigger of 8
    const received: number[] = [];
    expect(serviceIrq(received)).toEqual(['rda']);
    expect(String.fromCharCode(...received)).toBe(text);
    expect(uart.queuedInput).toBe(0);

    backend.type('ls\r');
    expect(irq4.level).toBe(false); // 3 bytes, below the trigger level
    clock.advance(4 * 87_000); // four 10-bit characters at 115200 baud is 347 µs
    expect(irq4.level).toBe(true);
    expect(inb(IIR)).toBe(0xcc);
    const more: number[] = [];
    expect(serviceIrq(more)).toEqual(['timeout']);
    expect(String.fromCharCode(...more)).toBe('ls\r');
    expect(irq4.level).toBe(false);
  });

  it('signals RX data exactly at each trigger level', () => {
    for (const [fcr, level] of [[0x07, 1], [0x47, 4], [0x87, 8], [0xc7, 14]]) {
      setup();
      outb(LCR, 0x03);
      outb(FCR, fcr);
      outb(IER, 0x01);
      backend.type('x'.repeat(level - 1));
      expect(inb(IIR) & 0x0f).toBe(0x01);
      backend.type('x');
      expect(inb(IIR) & 0x0f).toBe(0x04);
    }
  });

  it('orders simultaneous interrupts line status > RX data > THRE > modem status', () => {
    outb(LCR, 0x03);
    outb(FCR, 0x01); // trigger 1
    outb(MCR, 0x1b); // loopback
    outb(IER, 0x0f);
    for (let i = 0; i < 17; i++) outb(THR, 0x41); // one byte too many: overrun
    outb(MCR, 0x10); // loopback outputs change: modem status deltas
    expect(inb(IIR) & 0x0f).toBe(0x06);
    expect(inb(LSR) & 0x03).toBe(0x03); // OE and DR; reading clears OE
    expect(inb(IIR) & 0x0f).toBe(0x04);
    for (let i = 0; i < 16; i++) inb(RBR);
    expect(inb(IIR) & 0x0f).toBe(0x02);
    expect(inb(IIR) & 0x0f).toBe(0x00);
    expect(inb(MSR) & 0x0f).not.toBe(0);
    expect(inb(IIR) & 0x0f).toBe(0x01);
  });

  it('reflects MCR in MSR in loopback, with delta bits cleared on read', () => {
    outb(MCR, 0x10);
    expect(inb(MSR)).toBe(0x0b); // CTS, DSR, DCD dropped (deltas) and RI was low
    expect(inb(MSR)).toBe(0x00);
    outb(MCR, 0x1f);
    expect(inb(MSR)).toBe(0xf0 | 0x0b);
    outb(MCR, 0x1b); // OUT1 off: trailing edge of RI
    expect(inb(MSR)).toBe(0xb0 | 0x04);
    outb(MCR, 0x00);
    expect(inb(MSR) & 0xf0).toBe(0xb0); // host end: CTS, DSR, DCD
  });

  it('reports a host break as BI with the FIFO error bit, on a zero byte', () => {
    initLikeLinux(0x05);
    backend.type('a');
    expect(uart.inputBreak()).toBe(true);
    expect(inb(LSR) & 0x91).toBe(0x81); // DR, FIFO error; BI shows when the break byte reaches the top
    expect(inb(RBR)).toBe(0x61);
    expect(inb(IIR) & 0x0f).toBe(0x06);
    expect(inb(LSR) & 0x91).toBe(0x91);
    expect(inb(RBR)).toBe(0x00);
    expect(inb(LSR) & 0x91).toBe(0x00);
  });

  it('works as a 16450 with FIFOs off: one-byte receiver, RX data interrupt per byte', () => {
    outb(LCR, 0x03);
    outb(MCR, 0x08);
    outb(IER, 0x01);
    backend.type('xy');
    expect(inb(IIR)).toBe(0x04);
    expect(inb(RBR)).toBe(0x78);
    expect(inb(RBR)).toBe(0x79);
    expect(inb(IIR)).toBe(0x01);
  });
});

describe('16550A back-pressure and hostile guests', () => {
  it('keeps THRE clear while the backend is full and resumes when it drains', () => {
    setup(4);
    initLikeLinux();
    for (let i = 0; i < 30; i++) outb(THR, 0x30 + i);
    expect(inb(LSR) & 0x60).toBe(0x00);
    expect(uart.txDropped).toBe(10); // 4 taken, 16 held, the rest overwrote nothing and were lost
    expect(backend.drain().length).toBe(4);
    expect(backend.drain().length).toBe(4);
    backend.drain();
    backend.drain();
    expect(inb(LSR) & 0x60).toBe(0x60);
    expect(backend.drain().length).toBe(4);
  });

  it('raises the THRE interrupt once a full backend drains the TX FIFO, so an interrupt-driven writer loses nothing', () => {
    setup(8);
    initLikeLinux(0x02);
    const text = 'interrupt-driven output through a slow backend\n';
    let next = 0;
    const received: number[] = [];
    // serial8250_tx_chars: on each THRE interrupt, load up to 16 bytes.
    const onIrq = () => {
      while ((inb(IIR) & 0x0f) === 0x02) {
        for (let i = 0; i < 16 && next < text.length; i++) outb(THR, text.charCodeAt(next++));
      }
    };
    for (let rounds = 0; rounds < 100 && received.length < text.length; rounds++) {
      if (irq4.level) onIrq();
      received.push(...backend.drain());
    }
    expect(String.fromCharCode(...received)).toBe(text);
    expect(uart.txDropped).toBe(0);
  });

  it('survives a 10 MB transmit flood against a stalled backend with bounded memory', () => {
    setup(64);
    initLikeLinux(0x02);
    const before = process.memoryUsage().heapUsed;
    for (let i = 0; i < 10 * 1024 * 1024; i++) outb(THR, i & 0xff);
    expect(uart.txDropped).toBe(10 * 1024 * 1024 - 64 - 16);
    expect(backend.peek().length).toBe(64);
    expect(process.memoryUsage().heapUsed - before).toBeLessThan(32 * 1024 * 1024);
    expect(inb(LSR) & 0x20).toBe(0);
  });

  it('bounds host input and asks for more once the guest drains the queue', () => {
    let roomCalls = 0;
    class TerminalLike extends BufferSerialBackend {
      inputRoom(): void {
        roomCalls++;
      }
    }
    clock = new ManualClock();
    backend = new TerminalLike();
    uart = new Uart16550({ clock, irq: irq4, backend, inputQueueSize: 64 });
    bus = new PortIoBus();
    bus.registerDevice(uart);
    initLikeLinux();
    const flood = new Uint8Array(10 * 1024 * 1024).fill(0x41);
    expect(uart.input(flood)).toBe(64);
    expect(uart.queuedInput).toBe(64 - 16);
    for (let i = 0; i < 32; i++) inb(RBR);
    expect(roomCalls).toBe(1);
  });

  it('keeps a defined state under garbage register traffic', () => {
    setup(8, 32);
    const rand = lcg(7);
    for (let i = 0; i < 50000; i++) {
      const port = COM1 + (rand() & 7);
      if (rand() & 1) outb(port, rand() & 0xff);
      else expect(inb(port)).toBeLessThanOrEqual(0xff);
      if (rand() % 13 === 0) backend.type(new Uint8Array([rand() & 0xff]));
      if (rand() % 17 === 0) backend.drain();
      if (rand() % 19 === 0) clock.advance(rand() % 1_000_000);
      expect(clock.pendingTimers).toBeLessThanOrEqual(1);
    }
    outb(MCR, 0);
    initLikeLinux();
    while (inb(LSR) & 0x01) inb(RBR);
    backend.drain();
    backend.drain();
    putsPolled('ok');
    expect(backend.text()).toBe('ok');
  });
});
