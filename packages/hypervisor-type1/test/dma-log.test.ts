// The DMA write log: device writes through a domain's memory become runs of frames a pCPU drains once.
import { describe, expect, it } from 'vitest';
import { DmaWriteLog } from '../src/memory/dma-log.js';
import { FRAME_SIZE } from '../src/memory/frame-pool.js';
import { DomainMemory, P2m } from '../src/memory/p2m.js';

function drained(log: DmaWriteLog): [number, number][] {
  const runs: [number, number][] = [];
  log.drain((address, length) => runs.push([address / FRAME_SIZE, length / FRAME_SIZE]));
  return runs;
}

describe('DmaWriteLog', () => {
  it('passes a fence only once a drain that began after the marks has finished, or at once while the vCPU is outside a slice', () => {
    const log = new DmaWriteLog(DmaWriteLog.buffer(64));
    log.mark(3 * FRAME_SIZE, 1);
    expect(log.passed(log.fence())).toBe(true); // not running: its next slice drains before it runs
    expect(log.running(true)).toBe(false);
    const fence = log.fence();
    log.setWaiting(true);
    expect(log.passed(fence)).toBe(false); // the marks are still pending
    expect(drained(log)).toEqual([[3, 1]]);
    expect(log.passed(fence)).toBe(false); // a drain took them; this look sees its count...
    expect(log.drain(() => undefined)).toBe(true); // (a device waits: the pCPU wakes its thread)
    expect(log.passed(fence)).toBe(true); // ...and passes once a drain has finished since
    const second = log.fence();
    log.mark(4 * FRAME_SIZE, 1);
    expect(log.passed(second)).toBe(false);
    expect(log.running(false)).toBe(true);
    expect(log.passed(second)).toBe(true); // the vCPU left its slice
    log.setWaiting(false);
    expect(log.drain(() => undefined)).toBe(false);
  });

  it('hands out runs of written frames once, across word boundaries', () => {
    const log = new DmaWriteLog(DmaWriteLog.buffer(100));
    log.mark(5 * FRAME_SIZE + 100, 10);
    log.mark(30 * FRAME_SIZE, 3 * FRAME_SIZE + 1);
    log.mark(99 * FRAME_SIZE + 4095, 1);
    expect(drained(log)).toEqual([[5, 1], [30, 4], [99, 1]]);
    expect(drained(log)).toEqual([]);
  });

  it('records what a device writes through DomainMemory, and nothing it could not write', () => {
    const pool = new SharedArrayBuffer(64 * FRAME_SIZE);
    const log = new DmaWriteLog(DmaWriteLog.buffer(16));
    const memory = new DomainMemory(pool, new P2m({ first: 32, count: 16 }), log);
    memory.write32(3 * FRAME_SIZE - 2, 0x11223344);
    expect(memory.writeBytes(7 * FRAME_SIZE, new Uint8Array(10))).toBe(true);
    memory.view(9 * FRAME_SIZE, 8)!.fill(1);
    memory.notifyWrite(9 * FRAME_SIZE, 8);
    // Outside the domain's 16 frames: refused, and nothing recorded.
    expect(memory.writeBytes(16 * FRAME_SIZE, new Uint8Array(1))).toBe(false);
    memory.write8(1 << 30, 1);
    memory.notifyWrite(15 * FRAME_SIZE, 2 * FRAME_SIZE);
    expect(drained(log)).toEqual([[2, 2], [7, 1], [9, 1]]);
    expect(new Uint8Array(pool)[(32 + 9) * FRAME_SIZE]).toBe(1);
  });
});
