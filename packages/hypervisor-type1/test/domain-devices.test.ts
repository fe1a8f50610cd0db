// One domain's device models as the device-model thread holds them, driven the way that thread
// drives them: requests, timers, the shared line block.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DomainDevices } from '../src/dm/domain-devices.js';
import { DiskIo } from '../src/disk/disk-io.js';
import type { DiskExtent } from '../src/disk/disk-extent.js';
import { DmaWriteLog } from '../src/memory/dma-log.js';
import { FRAME_SIZE } from '../src/memory/frame-pool.js';
import {
  IOREQ_INTA, IOREQ_MMIO_READ, IOREQ_PORT_READ, IOREQ_PORT_WRITE, LINE_BLOCKED, LINE_ENDED, LINE_INTR, LINE_POST, LINE_SHUTDOWN,
  LINE_SHUTDOWN_STATUS, LINE_WORDS, SHUTDOWN_EXIT_PORT,
} from '../src/pcpu/protocol.js';

const dir = mkdtempSync(join(tmpdir(), 'ringvisor-type1-dm-'));
// The disk's I/O thread runs the built module (a worker cannot start from the TypeScript source).
DiskIo.threadUrl = new URL('../dist/disk-thread.js', import.meta.url);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function devices(disk?: DiskExtent) {
  const pool = new SharedArrayBuffer(64 * FRAME_SIZE);
  const linesBuffer = new SharedArrayBuffer(LINE_WORDS * 4);
  const lines = new Int32Array(linesBuffer);
  lines[LINE_POST] = -1;
  const d = new DomainDevices(pool, {
    domain: 1, ramSize: 1024 * 1024, rtcTime: Date.UTC(2026, 0, 1), epochMs: performance.timeOrigin + performance.now(),
    lines: linesBuffer, extent: { first: 0, count: 64 }, guestFrames: 64, dmaLog: DmaWriteLog.buffer(64), ...(disk ? { disk } : {}),
  }, null, true);
  return { d, lines };
}

describe('DomainDevices', () => {
  it('publishes an exit-port write in the line block and ends the domain; later accesses meet an undriven bus', () => {
    const { d, lines } = devices();
    d.serve(IOREQ_PORT_WRITE, 0xf4, 1, 3);
    expect(lines[LINE_SHUTDOWN]).toBe(SHUTDOWN_EXIT_PORT);
    expect(lines[LINE_SHUTDOWN_STATUS]).toBe(7);
    expect(lines[LINE_ENDED]).toBe(1);
    expect(d.serve(IOREQ_PORT_READ, 0x21, 1, 0)).toBe(0xffffffff);
    expect(d.msUntilNextTimer()).toBeNull();
  });

  it('hands the wake-up of a blocked vCPU to exactly one side when the PIT raises the line', async () => {
    const { d, lines } = devices();
    // Unmask IRQ 0 only; the PIT runs in mode 3 as the BIOS left it (18.2 Hz).
    d.serve(IOREQ_PORT_WRITE, 0x21, 1, 0xfe);
    expect(d.syncLine()).toBe(false);
    lines[LINE_BLOCKED] = 1;
    const due = d.msUntilNextTimer();
    expect(due).not.toBeNull();
    await new Promise((resolve) => setTimeout(resolve, Math.ceil(due!) + 5));
    d.runDue();
    expect(d.syncLine()).toBe(true);
    expect(lines[LINE_INTR]).toBe(1);
    expect(lines[LINE_BLOCKED]).toBe(0);
    expect(d.syncLine()).toBe(false); // the flag was taken: no second wake-up
    expect(d.serve(IOREQ_INTA, 0, 1, 0)).toBe(0x08); // IRQ 0 at the BIOS's vector base 8
  });

  it('lets a wide access over port 0x80 see the POST latch the pCPU keeps, and keeps what it writes', () => {
    const { d, lines } = devices();
    lines[LINE_POST] = 0x5a;
    expect(d.serve(IOREQ_PORT_READ, 0x80, 2, 0)).toBe(0xff5a); // port 0x81: nothing there
    d.serve(IOREQ_PORT_WRITE, 0x80, 2, 0x773c);
    expect(lines[LINE_POST]).toBe(0x3c);
  });

  it('fires a timer that fell due before an access first: a PIT oneshot reprogrammed late keeps its edge', async () => {
    const { d } = devices();
    d.serve(IOREQ_PORT_WRITE, 0x21, 1, 0xfe);
    // Channel 0, mode 4 (Linux's oneshot clockevent), 10 ticks (~8.4 µs).
    d.serve(IOREQ_PORT_WRITE, 0x43, 1, 0x38);
    d.serve(IOREQ_PORT_WRITE, 0x40, 1, 10);
    d.serve(IOREQ_PORT_WRITE, 0x40, 1, 0);
    const edges = d.board.pit.irqEdges;
    await new Promise((resolve) => setTimeout(resolve, 5));
    // The guest programs its next event before anything ran the timer: the first one fires first.
    d.serve(IOREQ_PORT_WRITE, 0x40, 1, 0xff);
    expect(d.board.pit.irqEdges).toBe(edges + 1);
    expect(d.serve(IOREQ_INTA, 0, 1, 0)).toBe(0x08);
  });

  it('puts the disk in the first virtio-mmio slot as virtio-blk of the extent\'s size, and refuses a disk it cannot open', () => {
    const path = join(dir, 'disk.img');
    writeFileSync(path, new Uint8Array(64 * 1024));
    const { d } = devices({ path, offset: 4096, size: 8192, readOnly: false });
    expect(d.serve(IOREQ_MMIO_READ, 0xd0000000, 4, 0)).toBe(0x74726976); // "virt"
    expect(d.serve(IOREQ_MMIO_READ, 0xd0000008, 4, 0)).toBe(2); // device ID: block
    expect(d.serve(IOREQ_MMIO_READ, 0xd0000100, 4, 0)).toBe(16); // capacity in sectors
    d.close();
    expect(() => devices({ path: join(dir, 'missing.img'), offset: 0, size: 512, readOnly: false })).toThrow(/missing\.img/);
    expect(() => devices({ path, offset: 60 * 1024, size: 8192, readOnly: false })).toThrow(/has 65536 bytes/);
  });

  it('refuses a request kind it does not know (the thread answers it as an undriven bus)', () => {
    const { d } = devices();
    expect(() => d.serve(99, 0, 1, 0)).toThrow(/unknown I\/O request kind 99/);
  });
});
