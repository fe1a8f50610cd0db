// Isolation from a hostile para-virtual domain (issue #16, proof 3): guests/pv-hostile.elf, a Xen PV
// kernel, names in its hypercalls every frame of the pool, the domains' on either side of it, frames
// past its extent and past the pool, the hypervisor's frames, numbers up to 2^32-1, pointers outside
// itself, foreign grants, domains and ports, and checks each answer is Xen's error code; then it
// crashes itself (a trap whose bounce frame cannot be written). It shares its pCPU with a para
// canary (minikernel-pv), beside two compute canaries. Nothing in the pool outside its extent may
// change but the canaries' own work, and every canary goes on.
import { describe, expect, it } from 'vitest';
import { COMPUTE_COUNTER_ADDRESS, FRAME_SIZE, Type1Hypervisor, parseDomain, parsePlatform } from '../dist/index.js';
import { sleep, until } from './until.js';

const strategies = [
  { name: 'hw:vmx', module: import.meta.resolve('@ringvisor/vmm-hw'), exportName: 'vmxStrategy' },
  { name: 'para', module: import.meta.resolve('@ringvisor/vmm-para'), exportName: 'paraStrategy' },
];
const PV_HOSTILE = new URL('../guests/pv-hostile.elf', import.meta.url).pathname;
/**
 * What pv-hostile.S checks: per number of the sweep that is not its own, a pin, an mmu_update
 * naming it as the table and (below 2^20) a writable mapping; per frame number, 8 calls (2 mmu_update targets, 2 pins, unpin,
 * new_baseptr, set_gdt, update_descriptor) and 4 more with the number in an L1 entry when it fits
 * there (below 2^20); outside those loops, OTHER_CHECKS (its grant setup, two hypervisor frames'
 * typed calls, the page-table, batch, descriptor, grant, memory, console, multicall and
 * event-channel calls).
 */
const checksFor = (frame: number) => (frame < 0x100000 ? 12 : 8);
/** The frame numbers pv-hostile.S adds to the command line's: 0, 1, 0xff, 2^20-1, 2^20, 2^31, 2^32-1. */
const FIXED = [0, 1, 0xff, 0xfffff, 0x100000, 0x80000000, 0xffffffff];
const OTHER_CHECKS = 91;
/** vmm-para keeps its own frames (GDT pages, IDT, its L1, shared_info, 4 grant frames) at the top of the domain's RAM. */
const PARA_TOP_FRAMES = 9;
/** ...and the low 1 MiB: the domain owns the frames between. */
const PARA_LOW_FRAMES = 256;

describe('isolation from a hostile para-virtual domain', () => {
  it('answers every hypercall naming what is not its own with Xen\'s error, and nothing outside it changes', async () => {
    const compute = (name: string) => ({ name, strategy: 'hw:vmx', memory: 4, boot: { compute: true } });
    // `gap` holds the hostile domain's place between the canaries until it is created there.
    const platform = parsePlatform(JSON.stringify({
      pcpus: 2, memory: 64,
      domains: [
        compute('canary1'), compute('gap'), compute('canary2'),
        { name: 'canary-pv', strategy: 'para', memory: 32, affinity: [1], boot: { guest: 'minikernel-pv' } },
      ],
    }));
    const consoles = new Map<string, string>();
    const hv = await Type1Hypervisor.start({
      platform, strategies, log: () => {},
      console: (domain, bytes) => consoles.set(domain.name, (consoles.get(domain.name) ?? '') + Buffer.from(bytes).toString('latin1')),
    });
    try {
      const out = (name: string) => consoles.get(name) ?? '';
      const counter = (name: string) => hv.find(name).memory.read32(COMPUTE_COUNTER_ADDRESS);
      await until('canaries', () => counter('canary1') > 0 && counter('canary2') > 0 && out('canary-pv').includes('minikernel shell: type help'));
      const gap = hv.find('gap').extent;
      await hv.destroy('gap');

      // The hostile domain's machine frame m is pool frame gap.first + m: the canaries' frames, the
      // pool's end and its own hypervisor frames in that numbering (canary1's wrap below 2^32),
      // and the whole pool's frame count.
      const first = gap.first;
      const own = gap.count;
      const rel = (poolFrame: number) => (poolFrame - first) >>> 0;
      const counterFrame = (name: string) => hv.find(name).p2m.machineAddress(COMPUTE_COUNTER_ADDRESS) / FRAME_SIZE;
      const frames = [rel(hv.find('canary2').extent.first)];
      for (const name of ['canary1', 'canary2', 'canary-pv']) {
        const { first: f, count } = hv.find(name).extent;
        frames.push(rel(f), rel(f + count - 1), rel(f + (count >> 1)));
        if (name !== 'canary-pv') frames.push(rel(counterFrame(name)));
        if (f >= own) frames.push(f);
      }
      frames.push(rel(hv.pool.frames), rel(hv.pool.frames) + 1, hv.pool.frames, hv.pool.frames - 1);
      for (let k = PARA_TOP_FRAMES; k > PARA_TOP_FRAMES - 4; k--) frames.push(own - k);
      // The sweep: every pool frame, from pool frame 0 (just under 2^32 in its numbering).
      const cmdline = [rel(0), hv.pool.frames, ...frames].map((f) => f.toString(16)).join(' ');
      expect(frames.every((f) => f >= own - PARA_TOP_FRAMES), 'every number is outside what the domain owns').toBe(true);

      const pool = new Uint8Array(hv.pool.buffer);
      const skip = [hv.find('canary-pv').extent, { first, count: own }];
      const counters = ['canary1', 'canary2'].map(counterFrame);
      // Every frame but the hostile domain's, the para canary's (its shell runs) and the compute canaries' counters.
      const snapshot = () => {
        const digest = new Map<number, string>();
        for (let f = 0; f < hv.pool.frames; f++) {
          if (counters.includes(f) || skip.some((e) => f >= e.first && f < e.first + e.count)) continue;
          digest.set(f, Buffer.from(pool.subarray(f * FRAME_SIZE, (f + 1) * FRAME_SIZE)).toString('base64'));
        }
        return digest;
      };
      const before = snapshot();
      const running = [counter('canary1'), counter('canary2')];

      const hostile = hv.create(parseDomain(JSON.stringify({
        name: 'pv-hostile', strategy: 'para', memory: 4, affinity: [1], boot: { pv: PV_HOSTILE, cmdline }, on_crash: 'preserve',
      }), 2));
      expect(hostile.extent).toEqual({ first, count: own });
      const row = () => hv.list().find((d) => d.name === 'pv-hostile')!;
      await until('the hostile domain ends', () => row().end !== null, 90_000);
      const report = out('pv-hostile');
      expect(report.split('\n').filter((line) => line.includes('FAIL')), 'wrong answers').toEqual([]);
      const summary = /pvhostile: swept ([0-9a-f]{8}), frames ([0-9a-f]{8}), checks ([0-9a-f]{8}), failures ([0-9a-f]{8})/.exec(report);
      expect(summary, report).not.toBeNull();
      const [swept, tried, checked, failed] = summary!.slice(1).map((n) => parseInt(n, 16));
      const sweep = Array.from({ length: hv.pool.frames }, (_, f) => rel(f)).filter((m) => m < PARA_LOW_FRAMES || m >= own - PARA_TOP_FRAMES);
      expect(swept).toBe(sweep.length);
      expect(tried).toBe(frames.length + FIXED.length);
      const checks = [...frames, ...FIXED].reduce((sum, frame) => sum + checksFor(frame), OTHER_CHECKS)
        + sweep.reduce((sum, m) => sum + (m < 0x100000 ? 3 : 2), 0);
      expect(checked, 'every check ran').toBe(checks);
      expect(failed).toBe(0);
      expect(row()).toMatchObject({ state: '---sc-', end: expect.stringMatching(/domain crashed: fault writing a trap frame/) });

      const after = snapshot();
      const changed = [...after.keys()].filter((f) => before.get(f) !== after.get(f));
      expect(changed, 'frames outside the hostile domain changed').toEqual([]);
      await until('compute canaries go on', () => counter('canary1') > running[0] && counter('canary2') > running[1]);
      hv.consoleInput(hv.find('canary-pv'), Buffer.from('ps\n'));
      await until('the para canary answers', () => out('canary-pv').includes('PID  PPID  STATE'));
      for (const name of ['canary1', 'canary2', 'canary-pv']) expect(hv.list().find((d) => d.name === name)!.end).toBeNull();
      await hv.destroy('pv-hostile');
      expect(hv.pool.framesOf(hostile.id)).toBe(0);
    } finally {
      await hv.shutdown();
    }
  }, 240_000);

  it('keeps a timer 146 years away without waking the pCPU for it', async () => {
    const platform = parsePlatform(JSON.stringify({
      pcpus: 1, memory: 16,
      domains: [{ name: 'sleeper', strategy: 'para', memory: 4, boot: { pv: PV_HOSTILE, cmdline: 'sleep' } }],
    }));
    let output = '';
    // The pCPU workers' stderr comes through this thread's: a timer past setTimeout's range fired
    // every millisecond with a TimeoutOverflowWarning each time.
    const stderr = process.stderr.write;
    let warnings = '';
    process.stderr.write = ((chunk: string | Uint8Array) => {
      warnings += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString();
      return true;
    }) as typeof process.stderr.write;
    const hv = await Type1Hypervisor.start({ platform, strategies, log: () => {}, console: (_, bytes) => { output += Buffer.from(bytes).toString('latin1'); } });
    try {
      const row = () => hv.list().find((d) => d.name === 'sleeper')!;
      await until('the sleeper blocks', () => output.includes('pvhostile: sleeping') && row().state === '-b----');
      await sleep(1000);
      expect(row()).toMatchObject({ state: '-b----', end: null });
      expect(warnings).not.toContain('TimeoutOverflowWarning');
    } finally {
      process.stderr.write = stderr;
      await hv.shutdown();
    }
  }, 60_000);
});
