// A domain's disk back end: its bytes of the host file and no others, whatever the request says.
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DiskExtentBackend, DiskRangeError } from '../src/disk/disk-extent.js';

const dir = mkdtempSync(join(tmpdir(), 'ringvisor-type1-extent-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('DiskExtentBackend', () => {
  it('reads and writes its slice at the slice\'s offset and refuses every byte outside it', () => {
    const path = join(dir, 'physical.img');
    const before = Uint8Array.from({ length: 8192 }, (_, i) => i & 0xff);
    writeFileSync(path, before);
    const disk = new DiskExtentBackend({ path, offset: 2048, size: 1024, readOnly: false });
    expect(disk.size).toBe(1024);
    const into = new Uint8Array(512);
    disk.read(512, into);
    expect(into).toEqual(before.subarray(2560, 3072));
    disk.write(0, new Uint8Array(512).fill(0xaa));
    for (const [offset, length] of [[1024, 1], [513, 512], [-512, 512], [0, 1025], [2 ** 53, 512], [0.5, 1]]) {
      expect(() => disk.read(offset, new Uint8Array(length)), `read ${offset}+${length}`).toThrow(DiskRangeError);
      expect(() => disk.write(offset, new Uint8Array(length).fill(0xbb)), `write ${offset}+${length}`).toThrow(DiskRangeError);
      expect(() => disk.discard(offset, length), `discard ${offset}+${length}`).toThrow(DiskRangeError);
    }
    expect(() => disk.discard(512, -1)).toThrow(DiskRangeError);
    disk.close();
    const expected = before.slice();
    expected.fill(0xaa, 2048, 2560);
    expect(Buffer.compare(readFileSync(path), expected)).toBe(0);
  });

  it('opens a read-only extent\'s file read-only (a file the host made read-only too) and writes nothing to it', () => {
    const path = join(dir, 'base.img');
    const before = Uint8Array.from({ length: 4096 }, (_, i) => (i * 3) & 0xff);
    writeFileSync(path, before);
    chmodSync(path, 0o444);
    const disk = new DiskExtentBackend({ path, offset: 1024, size: 2048, readOnly: true });
    expect(disk.readOnly).toBe(true);
    const into = new Uint8Array(512);
    disk.read(512, into);
    expect(into).toEqual(before.subarray(1536, 2048));
    expect(() => disk.write(0, new Uint8Array(512).fill(0xcc))).toThrow(/read-only/);
    expect(() => disk.write(4096, new Uint8Array(512))).toThrow(DiskRangeError);
    disk.close();
    expect(Buffer.compare(readFileSync(path), before)).toBe(0);
  });

  it('will not open a file shorter than its extent', () => {
    const path = join(dir, 'short.img');
    writeFileSync(path, new Uint8Array(1024));
    expect(() => new DiskExtentBackend({ path, offset: 512, size: 1024, readOnly: false })).toThrow(/has 1024 bytes/);
  });
});
