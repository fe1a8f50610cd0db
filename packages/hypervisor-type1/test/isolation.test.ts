// Isolation: hostile domains beside canary domains on the same pCPUs and pool. One writes all of
// guest-physical space above its RAM and then triple faults; the bundled `escape` guest maps every
// frame it can name through page tables (above RAM, MMIO holes, every directory slot). Nothing in the
// pool outside their frames may change (the canaries' work counters aside, which must keep going).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { COMPUTE_COUNTER_ADDRESS, FRAME_SIZE, Type1Hypervisor, parsePlatform } from '../dist/index.js';

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

const strategies = [{ name: 'hw:vmx', module: import.meta.resolve('@ringvisor/vmm-hw'), exportName: 'vmxStrategy' }];
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(what: string, check: () => boolean, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

describe('isolation between domains', () => {
  it('hostile domains change nothing outside their frames; the canaries keep running', async () => {
    const hostileFile = join(dir, 'hostile.bin');
    writeFileSync(hostileFile, HOSTILE);
    const platform = parsePlatform(JSON.stringify({
      pcpus: 2, memory: 64,
      domains: [
        { name: 'canary1', strategy: 'hw:vmx', memory: 4, boot: { compute: true } },
        { name: 'canary2', strategy: 'hw:vmx', memory: 4, boot: { compute: true } },
        { name: 'hostile', strategy: 'hw:vmx', memory: 4, boot: { flat: hostileFile, address: 0x100000 }, autostart: false },
        { name: 'escape', strategy: 'hw:vmx', memory: 8, boot: { guest: 'escape' }, autostart: false },
      ],
    }));
    const log: string[] = [];
    const hv = await Type1Hypervisor.start({ platform, strategies, log: (line) => log.push(line) });
    try {
      const counter = (name: string) => hv.find(name).memory.read32(COMPUTE_COUNTER_ADDRESS);
      await until('canaries', () => counter('canary1') > 0 && counter('canary2') > 0);
      const pool = new Uint8Array(hv.pool.buffer);
      const counterPages = ['canary1', 'canary2'].map((n) => hv.find(n).p2m.machineAddress(COMPUTE_COUNTER_ADDRESS) & ~(FRAME_SIZE - 1));
      // Everything the hostile domains will not own: the canaries (but their counters) and the free
      // frames; the hostile domains get their frames from the free ones, so those are left out below.
      const snapshot = (skip: readonly { first: number; count: number }[]) => {
        const frames: number[] = [];
        for (let f = 0; f < hv.pool.frames; f++) {
          if (counterPages.includes(f * FRAME_SIZE) || skip.some((e) => f >= e.first && f < e.first + e.count)) continue;
          frames.push(f);
        }
        return new Map(frames.map((f) => [f, Buffer.from(pool.subarray(f * FRAME_SIZE, (f + 1) * FRAME_SIZE)).toString('base64')]));
      };
      const hostileDomains = [hv.create(platform.domains[2]), hv.create(platform.domains[3])];
      const extents = hostileDomains.map((d) => d.extent);
      const before = snapshot(extents);
      const running = [counter('canary1'), counter('canary2')];
      await until('hostile ends', () => hv.list().find((d) => d.name === 'hostile')!.end !== null);
      await until('escape ends', () => hv.list().find((d) => d.name === 'escape')!.end !== null, 120_000);
      const rows = hv.list();
      expect(rows.find((d) => d.name === 'hostile')).toMatchObject({ state: '----c-', end: expect.stringMatching(/^triple fault/) });
      expect(rows.find((d) => d.name === 'escape')).toMatchObject({ end: 'exit code 0' });
      const after = snapshot(extents);
      const changed = [...before.keys()].filter((f) => before.get(f) !== after.get(f));
      expect(changed, 'frames outside the hostile domains changed').toEqual([]);
      await until('canaries go on', () => counter('canary1') > running[0] && counter('canary2') > running[1]);
      for (const name of ['canary1', 'canary2']) expect(hv.list().find((d) => d.name === name)!.end).toBeNull();
      await hv.destroy('hostile');
      await hv.destroy('escape');
      expect(hv.pool.freeFrames).toBe(hv.pool.frames - 2 * (4 * 1024 * 1024) / FRAME_SIZE);
    } finally {
      await hv.shutdown();
    }
  }, 180_000);
});
