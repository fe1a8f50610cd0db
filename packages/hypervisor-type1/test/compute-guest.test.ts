// The compute guest's committed image is what its source builds to (where GNU binutils exist).
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readComputeGuest } from '../src/boot.js';

const guests = join(import.meta.dirname, '..', 'guests');
const toolchain = ['as', 'ld', 'objcopy'].every((tool) => spawnSync(tool, ['--version'], { stdio: 'ignore' }).status === 0);

describe('compute guest', () => {
  it.skipIf(!toolchain)('guests/build.sh rebuilds compute.bin byte for byte', () => {
    const dir = mkdtempSync(join(tmpdir(), 'compute-guest-'));
    try {
      cpSync(guests, dir, { recursive: true });
      execFileSync('sh', [join(dir, 'build.sh')]);
      expect(Buffer.compare(readFileSync(join(dir, 'compute.bin')), readFileSync(join(guests, 'compute.bin')))).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('ships its image: the banner and the counter address are in it', () => {
    const image = Buffer.from(readComputeGuest());
    expect(image.includes('compute: xorshift rounds at 0x101000')).toBe(true);
    expect(image[0x16]).toBe(0xbf); // mov edi, COUNTER
    expect(image.readUInt32LE(0x17)).toBe(0x101000);
  });
});
