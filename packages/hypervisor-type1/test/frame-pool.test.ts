import { describe, expect, it } from 'vitest';
import { FRAME_SIZE, FramePool, PoolExhaustedError } from '../src/memory/frame-pool.js';
import { DomainMemory, P2m } from '../src/memory/p2m.js';

describe('FramePool', () => {
  it('hands out zeroed frames first fit and takes them back whole', () => {
    const pool = new FramePool(64 * FRAME_SIZE);
    const a = pool.allocate(16, 1);
    const b = pool.allocate(16, 2);
    const c = pool.allocate(16, 3);
    expect([a.first, b.first, c.first]).toEqual([0, 16, 32]);
    expect(pool.freeFrames).toBe(16);
    expect(pool.framesOf(2)).toBe(16);
    new Uint8Array(pool.buffer).fill(0xaa, b.first * FRAME_SIZE, (b.first + 16) * FRAME_SIZE);
    pool.release(b, 2);
    expect(pool.framesOf(2)).toBe(0);
    expect(() => pool.allocate(17, 4)).toThrow(PoolExhaustedError);
    const again = pool.allocate(16, 4);
    expect(again.first).toBe(16);
    expect(new Uint8Array(pool.buffer, again.first * FRAME_SIZE, 16 * FRAME_SIZE).every((x) => x === 0)).toBe(true);
    pool.release(a, 1);
    pool.release(again, 4);
    pool.release(c, 3);
    expect(pool.freeFrames).toBe(64);
    expect(pool.largestFreeRun).toBe(64);
  });

  it('refuses to free frames of another domain, and says why an allocation fails', () => {
    const pool = new FramePool(8 * FRAME_SIZE);
    const a = pool.allocate(4, 1);
    expect(() => pool.release(a, 2)).toThrow(/frame 0 does not belong to domain 2/);
    expect(() => pool.allocate(5, 2)).toThrow('the RAM pool has no 5 contiguous free frames (4 free, the largest run 4)');
    expect(() => pool.allocate(0, 2)).toThrow(RangeError);
  });
});

describe('DomainMemory through the p2m', () => {
  it('reaches only the domain\'s own frames', () => {
    const pool = new FramePool(16 * FRAME_SIZE);
    pool.allocate(4, 1);
    const mine = pool.allocate(4, 2);
    pool.allocate(4, 3);
    const all = new Uint8Array(pool.buffer);
    const memory = new DomainMemory(pool.buffer, new P2m(mine));
    expect(memory.ramEnd).toBe(4 * FRAME_SIZE);
    memory.write32(0, 0x11223344);
    expect(all[4 * FRAME_SIZE]).toBe(0x44);
    const before = [...all];
    // Past the end, negative, fractional and huge addresses reach nothing and read as all ones.
    for (const address of [4 * FRAME_SIZE, -1, 0.5, 2 ** 32, Number.NaN]) {
      memory.write8(address, 0x55);
      expect(memory.read8(address)).toBe(0xff);
    }
    memory.write32(4 * FRAME_SIZE - 2, 0x66778899);
    expect(memory.writeBytes(4 * FRAME_SIZE - 1, new Uint8Array(2))).toBe(false);
    expect(memory.view(4 * FRAME_SIZE - 1, 2)).toBeNull();
    expect(memory.readBytes(-4, new Uint8Array(8))).toBe(false);
    const changed = Array.from(all, (x, i) => (x !== before[i] ? i : -1)).filter((i) => i >= 0);
    expect(changed).toEqual([8 * FRAME_SIZE - 2, 8 * FRAME_SIZE - 1]);
    const sum = memory.checksum();
    all[0] = 1;
    all[8 * FRAME_SIZE] = 1;
    expect(memory.checksum()).toBe(sum);
  });
});
