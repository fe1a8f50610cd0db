// Domain disks: the bundled minikernel's `disk` command writes sector 1 of its disk and reads it
// back. Each domain gets virtio-blk on its own board wherever that board lives — on the
// device-model thread (a vCPU that may move), on its pCPU (pinned hw:vmx, full) — and a para
// domain gets the same disk as Xen blkif. Afterwards the host files differ from before in exactly
// the sectors written: a slice's sector 1 at the slice's offset, nothing elsewhere.
import { mkdtempSync, readdirSync, readFileSync, readlinkSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_ACTIONS, Type1Hypervisor, parsePlatform } from '../dist/index.js';

const dir = mkdtempSync(join(tmpdir(), 'ringvisor-type1-disk-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const strategies = [
  { name: 'hw:vmx', module: import.meta.resolve('@ringvisor/vmm-hw'), exportName: 'vmxStrategy' },
  { name: 'full', module: import.meta.resolve('@ringvisor/vmm-full'), exportName: 'fullStrategy' },
  { name: 'para', module: import.meta.resolve('@ringvisor/vmm-para'), exportName: 'paraStrategy' },
];
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const SECTOR = 512;
/** What the minikernel's `disk` command writes to sector 1 (guests/sources/minikernel/user/programs.c). */
const DISK_TEXT = 'minikernel disk block: written by the disk command\n';

async function until(what: string, check: () => boolean, ms = 120_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

/** A recognisable, position-dependent filling, so that any stray write shows. */
function pattern(bytes: number, seed: number): Uint8Array {
  const data = new Uint8Array(bytes);
  for (let i = 0; i < bytes; i++) data[i] = (i * 7 + (i >>> 9) * 13 + seed) & 0xff;
  return data;
}

/** The files this process holds descriptors on (Linux's /proc/self/fd). */
function openFiles(): string[] {
  return readdirSync('/proc/self/fd').flatMap((fd) => {
    try {
      return [readlinkSync(`/proc/self/fd/${fd}`)];
    } catch {
      return [];
    }
  });
}

function sectorWritten(): Uint8Array {
  const sector = new Uint8Array(SECTOR);
  sector.set(Buffer.from(DISK_TEXT, 'latin1'));
  return sector;
}

describe('domain disks', () => {
  it('gives each domain its disk as virtio-blk on its own board (device-model thread, its pCPU) or blkif; the host sees exactly the writes', async () => {
    const physical = join(dir, 'physical.img');
    const own = join(dir, 'own.img');
    const physicalBefore = pattern(1024 * 1024, 1);
    const ownBefore = pattern(64 * 1024, 2);
    writeFileSync(physical, physicalBefore);
    writeFileSync(own, ownBefore);
    // Slices of the physical disk, each 64 KiB, with untouched space between them.
    const slices = { thread: 128 * 1024, full: 320 * 1024, pv: 512 * 1024 };
    const platform = parsePlatform(JSON.stringify({
      pcpus: 2, memory: 96, disk: physical,
      domains: [
        { name: 'local', strategy: 'hw:vmx', memory: 16, affinity: [0], boot: { guest: 'minikernel' }, disk: { file: own } },
        { name: 'thread', strategy: 'hw:vmx', memory: 16, boot: { guest: 'minikernel' }, disk: { offset: slices.thread, size: 64 * 1024 } },
        { name: 'full', strategy: 'full', memory: 16, affinity: [1], boot: { guest: 'minikernel' }, disk: { offset: slices.full, size: 64 * 1024 } },
        { name: 'pv', strategy: 'para', memory: 32, affinity: [1], boot: { guest: 'minikernel-pv' }, disk: { offset: slices.pv, size: 64 * 1024 } },
      ],
    }));
    const consoles = new Map<string, string>();
    const log: string[] = [];
    const hv = await Type1Hypervisor.start({
      platform, strategies, log: (line) => log.push(line),
      console: (domain, bytes) => consoles.set(domain.name, (consoles.get(domain.name) ?? '') + Buffer.from(bytes).toString('latin1')),
    });
    try {
      expect(log.filter((l) => l.includes('device models on pCPU')).map((l) => /'([\w-]+)'/.exec(l)![1])).toEqual(['local', 'full']);
      const out = (name: string) => consoles.get(name) ?? '';
      for (const name of ['local', 'thread', 'full', 'pv']) {
        await until(`${name}'s shell`, () => out(name).includes('minikernel shell: type help'), 180_000);
        hv.consoleInput(hv.find(name), Buffer.from('disk\n'));
      }
      for (const name of ['local', 'thread', 'full', 'pv']) {
        await until(`${name}'s disk command`, () => /disk: [^\n]*(identical|DIFFERENT|no disk)/.test(out(name)));
        // 128 sectors: the size of the file or slice, as the device reports it; the write and the read both served.
        expect(out(name), name).toContain('disk: 128 sectors; wrote sector 1 ok, read back identical');
      }
      expect(openFiles()).toContain(realpathSync(physical));
    } finally {
      await hv.shutdown();
    }
    // Every board and the blkif back end closed their descriptors when the platform stopped.
    expect(openFiles().filter((f) => f === realpathSync(physical) || f === realpathSync(own))).toEqual([]);
    const ownAfter = new Uint8Array(readFileSync(own));
    const ownExpected = ownBefore.slice();
    ownExpected.set(sectorWritten(), SECTOR);
    expect(Buffer.compare(ownAfter, ownExpected), 'the domain\'s own file: sector 1 written, the rest as it was').toBe(0);
    const physicalAfter = new Uint8Array(readFileSync(physical));
    const physicalExpected = physicalBefore.slice();
    for (const offset of Object.values(slices)) physicalExpected.set(sectorWritten(), offset + SECTOR);
    expect(Buffer.compare(physicalAfter, physicalExpected), 'the physical disk: each slice\'s sector 1 written, nothing else').toBe(0);
  }, 300_000);

  it('drops the code a pCPU decoded from a page the disk is read into, on either board placement and strategy', async () => {
    // guests/dma-code.S runs a function at 3 MiB that returns 1, reads sector 0 over it, calls it again, exits with its result.
    const sector = new Uint8Array(SECTOR);
    sector.set([0xb0, 0x02, 0xc3]); // mov $2, %al; ret
    const boot = { flat: new URL('../guests/dma-code.bin', import.meta.url).pathname, address: 0x100000 };
    const placements = [['thread', 'hw:vmx', 'all'], ['local', 'hw:vmx', [0]], ['full', 'full', [1]]] as const;
    const domains = placements.map(([name, strategy, affinity]) => {
      const file = join(dir, `code-${name}.img`);
      writeFileSync(file, sector);
      return { name, strategy, memory: 4, affinity, boot, disk: { file }, on_poweroff: 'preserve' };
    });
    const hv = await Type1Hypervisor.start({ platform: parsePlatform(JSON.stringify({ pcpus: 2, memory: 64, domains })), strategies });
    try {
      const end = (name: string) => hv.list().find((d) => d.name === name)!.end;
      for (const [name] of placements) {
        await until(`${name} ends`, () => end(name) !== null);
        expect(end(name), `${name}: 2 is the new code's answer, 1 the stale code's`).toBe('exit code 2');
      }
    } finally {
      await hv.shutdown();
    }
  });

  it('refuses a disk that overlaps another live domain\'s or lies past the end of the physical disk; a destroyed domain\'s disk closes', async () => {
    const physical = join(dir, 'small.img');
    writeFileSync(physical, new Uint8Array(64 * 1024));
    const platform = parsePlatform(JSON.stringify({
      pcpus: 1, memory: 16, disk: physical,
      domains: [{ name: 'a', strategy: 'hw:vmx', memory: 4, boot: { compute: true }, disk: { offset: 0, size: 32 * 1024 } }],
    }));
    const hv = await Type1Hypervisor.start({ platform, strategies });
    try {
      const base = { strategy: 'hw:vmx', memoryMiB: 4, vcpus: 1, weight: 256, cap: 0, affinity: [0], boot: { kind: 'compute' }, autostart: true, on: DEFAULT_ACTIONS } as const;
      expect(() => hv.create({ ...base, name: 'b', disk: { kind: 'slice', offset: 16 * 1024, size: 32 * 1024, readOnly: false } })).toThrow(/are domain 'a's disk/);
      expect(() => hv.create({ ...base, name: 'c', disk: { kind: 'slice', offset: 48 * 1024, size: 32 * 1024, readOnly: false } })).toThrow(/ends past the platform disk/);
      expect(() => hv.create({ ...base, name: 'd', disk: { kind: 'file', path: join(dir, 'missing.img'), readOnly: false } })).toThrow(/disk: .*missing\.img/);
      expect(hv.pool.freeFrames).toBe(hv.pool.frames - (4 * 1024 * 1024) / 4096);
      hv.create({ ...base, name: 'e', disk: { kind: 'slice', offset: 32 * 1024, size: 32 * 1024, readOnly: false } });
      // Each board's disk I/O thread holds its own descriptor on the file (opened as the thread
      // starts), and a destroyed domain's closes its own.
      const held = () => openFiles().filter((f) => f === realpathSync(physical)).length;
      await until('a and e run', () => hv.list().every((d) => d.cpuSeconds > 0));
      await until('both disks open', () => held() === 2, 10_000);
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(held()).toBe(2);
      await hv.destroy('a');
      await until('a\'s board closes its disk', () => held() === 1, 10_000);
      hv.create({ ...base, name: 'f', disk: { kind: 'slice', offset: 0, size: 32 * 1024, readOnly: false } });
      // Read-only overlapping read-write, either way round: refused. Read-only beside read-only: shared.
      expect(() => hv.create({ ...base, name: 'g', disk: { kind: 'slice', offset: 0, size: 512, readOnly: true } })).toThrow(/are writable by domain 'f'/);
      await hv.destroy('f');
      hv.create({ ...base, name: 'g', disk: { kind: 'slice', offset: 0, size: 32 * 1024, readOnly: true } });
      hv.create({ ...base, name: 'h', disk: { kind: 'slice', offset: 512, size: 1024, readOnly: true } });
      expect(() => hv.create({ ...base, name: 'i', disk: { kind: 'slice', offset: 0, size: 512, readOnly: false } })).toThrow(/are domain 'g's disk \(only disks read-only in both may share bytes\)/);
    } finally {
      await hv.shutdown();
    }
  });

  it('offers an "access": "ro" disk read-only to every strategy: domains share it, a guest\'s write fails and changes nothing', async () => {
    const physical = join(dir, 'base.img');
    const before = pattern(256 * 1024, 3);
    writeFileSync(physical, before);
    // Three domains over the same 64 KiB, read-only: two virtio-blk boards (device-model thread, a
    // pCPU) and a blkif back end.
    const shared = { offset: 64 * 1024, size: 64 * 1024, access: 'ro' };
    const platform = parsePlatform(JSON.stringify({
      pcpus: 2, memory: 96, disk: physical,
      domains: [
        { name: 'thread', strategy: 'hw:vmx', memory: 16, boot: { guest: 'minikernel' }, disk: shared },
        { name: 'full', strategy: 'full', memory: 16, affinity: [1], boot: { guest: 'minikernel' }, disk: shared },
        { name: 'pv', strategy: 'para', memory: 32, affinity: [0], boot: { guest: 'minikernel-pv' }, disk: shared },
      ],
    }));
    const consoles = new Map<string, string>();
    const hv = await Type1Hypervisor.start({
      platform, strategies,
      console: (domain, bytes) => consoles.set(domain.name, (consoles.get(domain.name) ?? '') + Buffer.from(bytes).toString('latin1')),
    });
    try {
      const out = (name: string) => consoles.get(name) ?? '';
      for (const name of ['thread', 'full', 'pv']) {
        await until(`${name}'s shell`, () => out(name).includes('minikernel shell: type help'), 180_000);
        hv.consoleInput(hv.find(name), Buffer.from('disk\n'));
      }
      for (const name of ['thread', 'full', 'pv']) {
        await until(`${name}'s disk command`, () => /disk: [^\n]*(identical|DIFFERENT|no disk)/.test(out(name)));
        // The write comes back an error (virtio-blk IOERR, blkif BLKIF_RSP_ERROR), and the sector
        // read back is not what the guest tried to write.
        expect(out(name), name).toContain('disk: 128 sectors; wrote sector 1 FAILED, read back DIFFERENT');
      }
    } finally {
      await hv.shutdown();
    }
    expect(Buffer.compare(readFileSync(physical), before), 'the physical disk is unchanged').toBe(0);
  }, 300_000);
});
