// Isolation: hostile domains beside canary domains on the same pCPUs, pool and physical disk. One
// writes all of guest-physical space above its RAM and then triple faults; the bundled `escape` guest
// maps every frame it can name through page tables (above RAM, MMIO holes, every directory slot);
// three run guests/dma-hostile.S, whose virtio-blk descriptors point everywhere, with their boards on
// the device-model thread, on their pCPU (hw:vmx pinned) and under full. Nothing in the pool outside
// their frames may change (the canaries' work counters aside, which must keep going), nor anything
// on the physical disk outside their slices; a canary that shares the device-model thread with a
// hostile domain then uses its own disk.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { COMPUTE_COUNTER_ADDRESS, FRAME_SIZE, Type1Hypervisor, parsePlatform } from '../dist/index.js';
import { until } from './until.js';

const dir = mkdtempSync(join(tmpdir(), 'ringvisor-type1-isolation-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/**
 * Loaded at 1 MiB in flat protected mode: writes 0xdeadbeef at every 4 MiB of guest-physical space
 * from 4 MiB (past its RAM) to the top, then loads an empty IDT and executes INT3 (#GP, #DF, triple fault).
 */
const HOSTILE = Uint8Array.of(
  0xb8, 0x00, 0x00, 0x40, 0x00, //             mov eax, 0x400000
  0xc7, 0x00, 0xef, 0xbe, 0xad, 0xde, // 1:    mov dword [eax], 0xdeadbeef
  0x05, 0x00, 0x00, 0x40, 0x00, //             add eax, 0x400000
  0x75, 0xf3, //                               jnz 1b
  0x0f, 0x01, 0x1d, 0x20, 0x00, 0x10, 0x00, // lidt [0x100020]
  0xcc, //                                     int3
  0, 0, 0, 0, 0, 0, //                         (padding)
  0, 0, 0, 0, 0, 0, //                         0x100020: IDTR base 0, limit 0
);

const strategies = [
  { name: 'hw:vmx', module: import.meta.resolve('@ringvisor/vmm-hw'), exportName: 'vmxStrategy' },
  { name: 'full', module: import.meta.resolve('@ringvisor/vmm-full'), exportName: 'fullStrategy' },
];
const DMA_HOSTILE = new URL('../guests/dma-hostile.bin', import.meta.url).pathname;
const KiB = 1024;
/** The physical disk's slices, 64 KiB each: canaries beside the hostile domains, one slice nobody has. */
const SLICES = { canary1: 0, 'dma-thread': 64 * KiB, 'dma-local': 128 * KiB, canary2: 192 * KiB, 'dma-full': 256 * KiB, canary3: 384 * KiB };
const SLICE_SIZE = 64 * KiB;
const DMA_HOSTILES = ['dma-thread', 'dma-local', 'dma-full'] as const;

/** What dma-hostile.S writes to sector 0 of its disk at the end: 128 little-endian words counting up from 0x4c54534f. */
function hostileSector(): Uint8Array {
  const sector = new DataView(new ArrayBuffer(512));
  for (let i = 0; i < 128; i++) sector.setUint32(4 * i, 0x4c54534f + i, true);
  return new Uint8Array(sector.buffer);
}
describe('isolation between domains', () => {
  it('hostile domains change nothing outside their frames and disk slices; the canaries keep running', async () => {
    const hostileFile = join(dir, 'hostile.bin');
    writeFileSync(hostileFile, HOSTILE);
    const physical = join(dir, 'physical.img');
    const diskBefore = Uint8Array.from({ length: 512 * KiB }, (_, i) => (i * 31 + (i >>> 9)) & 0xff);
    writeFileSync(physical, diskBefore);
    const slice = (name: keyof typeof SLICES) => ({ offset: SLICES[name], size: SLICE_SIZE });
    // Ended domains are kept (their frames too) to be compared and then destroyed.
    const dmaHostile = { memory: 4, boot: { flat: DMA_HOSTILE, address: 0x100000 }, autostart: false, on_poweroff: 'preserve' };
    const platform = parsePlatform(JSON.stringify({
      pcpus: 2, memory: 64, disk: physical,
      domains: [
        { name: 'canary1', strategy: 'hw:vmx', memory: 4, boot: { compute: true }, disk: slice('canary1') },
        { name: 'canary2', strategy: 'hw:vmx', memory: 4, boot: { compute: true }, disk: slice('canary2') },
        { name: 'canary3', strategy: 'hw:vmx', memory: 16, boot: { guest: 'minikernel' }, disk: slice('canary3') },
        { name: 'hostile', strategy: 'hw:vmx', memory: 4, boot: { flat: hostileFile, address: 0x100000 }, autostart: false, on_crash: 'preserve' },
        { name: 'escape', strategy: 'hw:vmx', memory: 8, boot: { guest: 'escape' }, autostart: false, on_poweroff: 'preserve' },
        { name: 'dma-thread', strategy: 'hw:vmx', ...dmaHostile, disk: slice('dma-thread') },
        { name: 'dma-local', strategy: 'hw:vmx', affinity: [1], ...dmaHostile, disk: slice('dma-local') },
        { name: 'dma-full', strategy: 'full', affinity: [0], ...dmaHostile, disk: slice('dma-full') },
      ],
    }));
    const log: string[] = [];
    let canary3 = '';
    const hv = await Type1Hypervisor.start({
      platform, strategies, log: (line) => log.push(line),
      console: (domain, bytes) => { if (domain.name === 'canary3') canary3 += Buffer.from(bytes).toString('latin1'); },
    });
    try {
      const counter = (name: string) => hv.find(name).memory.read32(COMPUTE_COUNTER_ADDRESS);
      await until('canaries', () => counter('canary1') > 0 && counter('canary2') > 0 && canary3.includes('minikernel shell: type help'));
      const pool = new Uint8Array(hv.pool.buffer);
      const counterPages = ['canary1', 'canary2'].map((n) => hv.find(n).p2m.machineAddress(COMPUTE_COUNTER_ADDRESS) & ~(FRAME_SIZE - 1));
      // canary3 (the minikernel) runs its shell: its RAM changes by itself and is left out.
      const canary3Extent = hv.find('canary3').extent;
      // Every frame but the canaries' counters and `skip`: taken before the hostile domains exist
      // (they could run before a later look), compared after on the frames they were not given.
      const snapshot = (skip: readonly { first: number; count: number }[]) => {
        const frames: number[] = [];
        for (let f = 0; f < hv.pool.frames; f++) {
          if (counterPages.includes(f * FRAME_SIZE) || skip.some((e) => f >= e.first && f < e.first + e.count)) continue;
          frames.push(f);
        }
        return new Map(frames.map((f) => [f, Buffer.from(pool.subarray(f * FRAME_SIZE, (f + 1) * FRAME_SIZE)).toString('base64')]));
      };
      const before = snapshot([canary3Extent]);
      const running = [counter('canary1'), counter('canary2')];
      const hostiles = ['hostile', 'escape', ...DMA_HOSTILES];
      const extents = platform.domains.filter((d) => hostiles.includes(d.name)).map((d) => hv.create(d).extent);
      const end = (name: string) => hv.list().find((d) => d.name === name)!.end;
      await until('hostile ends', () => end('hostile') !== null);
      for (const name of DMA_HOSTILES) await until(`${name} ends`, () => end(name) !== null);
      await until('escape ends', () => end('escape') !== null, 120_000);
      const rows = hv.list();
      expect(rows.find((d) => d.name === 'hostile')).toMatchObject({ state: '---sc-', end: expect.stringMatching(/^triple fault/) });
      expect(rows.find((d) => d.name === 'escape')).toMatchObject({ end: 'exit code 0' });
      // Exit code 0: every request past its disk's end came back IOERR, and its device still worked after.
      for (const name of DMA_HOSTILES) expect(rows.find((d) => d.name === name), name).toMatchObject({ end: 'exit code 0' });
      const after = snapshot([canary3Extent, ...extents]);
      const changed = [...after.keys()].filter((f) => before.get(f) !== after.get(f));
      expect(changed, 'frames outside the hostile domains changed').toEqual([]);
      await until('canaries go on', () => counter('canary1') > running[0] && counter('canary2') > running[1]);
      hv.consoleInput(hv.find('canary3'), Buffer.from('disk\n'));
      await until('canary3 uses its disk', () => /disk: [^\n]*(identical|DIFFERENT|no disk)/.test(canary3));
      expect(canary3).toContain('disk: 128 sectors; wrote sector 1 ok, read back identical');
      for (const name of ['canary1', 'canary2', 'canary3']) expect(end(name)).toBeNull();
      // The physical disk: each hostile domain's sector 0 as it wrote it last, canary3's sector 1, nothing else.
      const diskExpected = diskBefore.slice();
      for (const name of DMA_HOSTILES) diskExpected.set(hostileSector(), SLICES[name]);
      const canarySector = new Uint8Array(512);
      canarySector.set(Buffer.from('minikernel disk block: written by the disk command\n', 'latin1'));
      diskExpected.set(canarySector, SLICES.canary3 + 512);
      expect(Buffer.compare(readFileSync(physical), diskExpected), 'the physical disk outside what the domains wrote').toBe(0);
      for (const name of hostiles) await hv.destroy(name);
      expect(hv.pool.freeFrames).toBe(hv.pool.frames - (2 * 4 + 16) * KiB * KiB / FRAME_SIZE);
    } finally {
      await hv.shutdown();
    }
  }, 180_000);
});
