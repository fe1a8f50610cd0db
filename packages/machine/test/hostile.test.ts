import { describe, expect, it } from 'vitest';
import { LoaderError, loadFlatBinary, loadLinux, loadMultiboot, pcMemoryMap } from '../src/index.js';
import { buildBzImage, buildElf32, le32, putMultibootHeader } from './support/images.js';
import { TestMemory } from './support/test-memory.js';

/** A seeded xorshift32, so a failure names a reproducible case. */
function random(seed: number): () => number {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>>= 0);
  };
}

const map = pcMemoryMap({ ramSize: 4 * 1024 * 1024 });
const memory = new TestMemory(map.regions);

/** Runs `load`; it may succeed, but the only error it may throw is a LoaderError. */
function onlyLoaderErrors(load: () => unknown): boolean {
  try {
    load();
    return false;
  } catch (error) {
    expect(error).toBeInstanceOf(LoaderError);
    expect((error as Error).message).not.toContain('\n');
    return true;
  }
}

describe('loaders on random input', () => {
  it('multiboot: random a.out address fields never escape as another error', () => {
    const next = random(1);
    let rejected = 0;
    for (let i = 0; i < 500; i++) {
      const image = new Uint8Array(64 + (next() % 4096));
      putMultibootHeader(image, 0, 0x10000, Array.from({ length: 5 }, () => (next() % 2 ? next() : next() % 0x500000)));
      if (onlyLoaderErrors(() => loadMultiboot(memory, image, { memoryMap: map }))) rejected++;
    }
    expect(rejected).toBeGreaterThan(400);
  });

  it('multiboot: random ELF program headers never escape as another error', () => {
    const next = random(2);
    let rejected = 0;
    for (let i = 0; i < 500; i++) {
      const image = new Uint8Array(0x2000);
      for (let at = 0; at < 0x200; at += 4) le32(image, at, next());
      image.set([0x7f, 0x45, 0x4c, 0x46, 1, 1, 1], 0);
      image[16] = 2;
      image[18] = 3;
      image[42] = 32;
      image[44] = 1 + (next() % 4);
      le32(image, 28, 52);
      le32(image, 52, 1);
      putMultibootHeader(image, 0x1000, 0);
      if (onlyLoaderErrors(() => loadMultiboot(memory, image, { memoryMap: map }))) rejected++;
    }
    expect(rejected).toBeGreaterThan(400);
  });

  it('linux: random setup header fields never escape as another error', () => {
    const next = random(3);
    let rejected = 0;
    for (let i = 0; i < 300; i++) {
      const image = buildBzImage(new Uint8Array(1024));
      for (let n = 0; n < 6; n++) image[0x1f1 + (next() % 0x7b)] = next() & 0xff;
      if (onlyLoaderErrors(() => loadLinux(memory, image, { memoryMap: map, initrd: new Uint8Array(next() % 0x400000) }))) rejected++;
    }
    expect(rejected).toBeGreaterThan(50);
  });

  it('linux: random vmlinux program headers never escape as another error', () => {
    const next = random(5);
    let rejected = 0;
    for (let i = 0; i < 500; i++) {
      const segments = Array.from({ length: 1 + (next() % 3) }, () => ({
        paddr: next() % 4 ? 0x100000 + (next() % 0x400000) : next(),
        data: new Uint8Array(next() % 0x3000),
        memsz: next() % 4 ? undefined : next() % 2 ? next() : next() % 0x400000,
      }));
      const image = buildElf32(next() % 2 ? segments[0].paddr + (next() % 0x100) : next(), segments);
      if (next() % 4 === 0) image[next() % 0x80] = next() & 0xff;
      const initrd = new Uint8Array(next() % 0x200000);
      if (onlyLoaderErrors(() => loadLinux(memory, image, { memoryMap: map, initrd }))) rejected++;
    }
    expect(rejected).toBeGreaterThan(250);
  });

  it('flat: random addresses and entries never escape as another error', () => {
    const next = random(4);
    let rejected = 0;
    for (let i = 0; i < 500; i++) {
      const address = next() % 2 ? next() : next() % 0x500000;
      const entry = next() % 3 ? address + (next() % 64) : next();
      const mode = next() % 2 ? 'real' : 'protected';
      if (onlyLoaderErrors(() => loadFlatBinary(memory, new Uint8Array(1 + (next() % 64)), { address, entry, mode }))) rejected++;
    }
    expect(rejected).toBeGreaterThan(250);
  });
});
