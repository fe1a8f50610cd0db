// on_poweroff, on_reboot, on_crash: each way a domain ends (the exit port's power-off, an i8042
// reset, a triple fault) under each action (destroy, restart, preserve), under hw:vmx and full, on
// real pCPU workers; on_watchdog for para domains whose SCHEDOP_watchdog expires; then a domain
// that crashes at once with on_crash=restart, whose restarts back off while the hypervisor and a
// domain beside it carry on.
import { mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { COMPUTE_COUNTER_ADDRESS, RESTART_FIRST_DELAY_MS, Type1Hypervisor, parsePlatform, restartPlan } from '../dist/index.js';
import { RESET, TRIPLE_FAULT, flatBoot } from './tiny-guests.js';
import { sleep, until } from './until.js';

const strategies = [
  { name: 'hw:vmx', module: import.meta.resolve('@ringvisor/vmm-hw'), exportName: 'vmxStrategy' },
  { name: 'full', module: import.meta.resolve('@ringvisor/vmm-full'), exportName: 'fullStrategy' },
  { name: 'para', module: import.meta.resolve('@ringvisor/vmm-para'), exportName: 'paraStrategy' },
];
/** The hostile PV kernel of pv-isolation.test.ts; with the command line `watchdog` it arms a 1 s domain watchdog and never feeds it. */
const PV_WATCHDOG = { pv: new URL('../guests/pv-hostile.elf', import.meta.url).pathname, cmdline: 'watchdog' };
const dir = mkdtempSync(join(tmpdir(), 'ringvisor-type1-lifecycle-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let hv: Type1Hypervisor | null = null;
afterEach(async () => {
  await hv?.shutdown();
  hv = null;
});

async function boot(domains: object[]): Promise<{ hv: Type1Hypervisor; log: string[]; consoles: Map<string, string> }> {
  const log: string[] = [];
  const consoles = new Map<string, string>();
  hv = await Type1Hypervisor.start({
    platform: parsePlatform(JSON.stringify({ pcpus: 2, memory: 160, domains })), strategies, log: (line) => log.push(line),
    console: (domain, bytes) => consoles.set(domain.name, (consoles.get(domain.name) ?? '') + Buffer.from(bytes).toString('latin1')),
  });
  return { hv, log, consoles };
}

describe('restartPlan', () => {
  it('restarts a domain that lived long at once, and backs off doubling over quick ends in a row, to 10 s', () => {
    expect(restartPlan(0, 60_000)).toEqual({ quickRestarts: 0, delayMs: 0 });
    expect(restartPlan(7, 10_000)).toEqual({ quickRestarts: 0, delayMs: 0 });
    expect(restartPlan(0, 5)).toEqual({ quickRestarts: 1, delayMs: RESTART_FIRST_DELAY_MS });
    expect([1, 2, 3, 4, 5, 6, 7, 8].map((n) => restartPlan(n, 9_999).delayMs)).toEqual([200, 400, 800, 1600, 3200, 6400, 10_000, 10_000]);
    expect(restartPlan(2 ** 31, 0).delayMs).toBe(10_000);
  });
});

describe('a domain\'s end', () => {
  it('is a power-off, a reboot or a crash, and its on_ action destroys, restarts or preserves it', async () => {
    const guests = {
      poweroff: { guest: 'hello' },
      reboot: flatBoot(dir, 'reset.bin', RESET),
      crash: flatBoot(dir, 'triple-fault.bin', TRIPLE_FAULT),
    };
    // The rebooting domain that restarts has a disk: each rebuild attaches it again.
    const disk = join(dir, 'reboot-restart.img');
    writeFileSync(disk, new Uint8Array(64 * 1024));
    const domains = Object.entries(guests).flatMap(([end, boot], i) => (['destroy', 'restart', 'preserve'] as const).map((action, j) => ({
      name: `${end}-${action}`, strategy: (i + j) % 2 === 0 ? 'hw:vmx' : 'full', memory: 4, boot, [`on_${end}`]: action,
      ...(end === 'reboot' && action === 'restart' ? { disk: { file: disk } } : {}),
    })));
    const { hv, log, consoles } = await boot(domains);
    const ids = new Map(hv.list().map((d) => [d.name, d.id]));
    const extents = new Map(domains.map((d) => [d.name, hv.find(d.name).extent]));
    const row = (name: string) => hv.list().find((d) => d.name === name);
    const endOf = { poweroff: 'exit code 0', reboot: 'reset', crash: /^triple fault/ };
    const flags = { poweroff: '---s--', reboot: '---sr-', crash: '---sc-' };
    for (const end of ['poweroff', 'reboot', 'crash'] as const) {
      // destroy: gone from the list, every frame back in the pool.
      const destroyed = `${end}-destroy`;
      await until(`${destroyed} destroyed`, () => row(destroyed) === undefined);
      expect(hv.pool.framesOf(ids.get(destroyed)!)).toBe(0);
      expect(log).toContain(`domain ${ids.get(destroyed)} '${destroyed}' destroyed: ${extents.get(destroyed)!.count} frames back in the pool`);

      // preserve: listed as shut down with its reason's letter, its frames still its own.
      const preserved = `${end}-preserve`;
      await until(`${preserved} ends`, () => row(preserved)?.end !== null);
      expect(row(preserved)).toMatchObject({ id: ids.get(preserved), state: flags[end], end: expect.stringMatching(endOf[end]) });
      expect(hv.pool.framesOf(ids.get(preserved)!)).toBe(extents.get(preserved)!.count);
      expect(await hv.find(preserved).settled()).toMatchObject({ action: 'preserve' });

      // restart: the same name under a new ID, its old frames freed and allocated again, and it runs (and ends) again.
      const restarted = `${end}-restart`;
      const first = ids.get(restarted)!;
      await until(`${restarted} restarted`, () => log.some((l) => l.startsWith(`domain ${first} '${restarted}' restarted as domain `)));
      const second = Number(/restarted as domain (\d+)/.exec(log.find((l) => l.startsWith(`domain ${first} '${restarted}' restarted`))!)![1]);
      expect(second).toBeGreaterThan(first);
      expect(hv.pool.framesOf(first)).toBe(0);
      expect(log).toContain(`domain ${first} '${restarted}' destroyed: ${extents.get(restarted)!.count} frames back in the pool`);
      await until(`${restarted} ends again`, () => log.some((l) => l.startsWith(`domain ${second} '${restarted}' ${end === 'crash' ? 'crashed' : 'shut down'}: `)));
      expect(hv.find(restarted).disk?.path ?? null).toBe(end === 'reboot' ? disk : null);
      await hv.destroy(restarted);
      expect(hv.list().some((d) => d.name === restarted)).toBe(false);
    }
    expect(log.filter((l) => l.includes('could not be restarted'))).toEqual([]);
    expect(consoles.get('poweroff-restart')!.split('Hello from protected mode!').length - 1).toBeGreaterThanOrEqual(2);
    for (const name of ['poweroff-preserve', 'reboot-preserve', 'crash-preserve']) await hv.destroy(name);
    expect(hv.pool.freeFrames).toBe(hv.pool.frames);
  }, 120_000);

  it('ends a para domain whose watchdog expires (SHUTDOWN_watchdog), and on_watchdog destroys (xl\'s default), restarts or preserves it', async () => {
    const started = performance.now();
    const { hv, log, consoles } = await boot([
      { name: 'wd-destroy', strategy: 'para', memory: 4, boot: PV_WATCHDOG },
      { name: 'wd-restart', strategy: 'para', memory: 4, boot: PV_WATCHDOG, on_watchdog: 'restart' },
      { name: 'wd-preserve', strategy: 'para', memory: 4, boot: PV_WATCHDOG, on_watchdog: 'preserve' },
    ]);
    const domains = new Map(['wd-destroy', 'wd-restart', 'wd-preserve'].map((name) => [name, hv.find(name)]));
    const outcomes = await Promise.all([...domains.values()].map((d) => d.settled()));
    // Not before the watchdog's second, and each guest armed it as timer 1 (no failed check printed).
    expect(performance.now() - started).toBeGreaterThanOrEqual(1000);
    for (const name of domains.keys()) expect(consoles.get(name)).toMatch(/^pvhostile: watchdog armed\npvhostile: sleeping\n/);
    expect(outcomes[0]).toEqual({ end: 'watchdog', action: 'destroy' });
    expect(outcomes[1]).toEqual({ end: 'watchdog', action: 'restart', restartedAs: expect.any(Number) });
    expect(outcomes[2]).toEqual({ end: 'watchdog', action: 'preserve' });
    for (const [name, d] of domains) expect(log).toContain(`domain ${d.id} '${name}' shut down: watchdog`);
    expect(log).toContain(`domain ${domains.get('wd-destroy')!.id} 'wd-destroy' destroyed: ${domains.get('wd-destroy')!.extent.count} frames back in the pool`);
    // preserve: listed shut down with xl's watchdog letter, its frames its own until xl destroy.
    const preserved = domains.get('wd-preserve')!;
    expect(hv.list().find((d) => d.name === 'wd-preserve')).toMatchObject({ id: preserved.id, state: '---sw-', end: 'watchdog' });
    expect(hv.pool.framesOf(preserved.id)).toBe(preserved.extent.count);
    // restart: the rebuilt domain arms its watchdog again.
    const second = outcomes[1].restartedAs!;
    await until('the restarted domain arms its watchdog', () => (consoles.get('wd-restart') ?? '').split('watchdog armed').length - 1 >= 2);
    expect(hv.find('wd-restart').id).toBe(second);
    await hv.destroy('wd-restart');
    await hv.destroy('wd-preserve');
    expect(hv.pool.freeFrames).toBe(hv.pool.frames);
  }, 60_000);

  it('frees a domain whose rebuild fails (its image is gone) and says why', async () => {
    const image = flatBoot(dir, 'vanishing.bin', RESET);
    const { hv, log } = await boot([{ name: 'vanishing', strategy: 'hw:vmx', memory: 4, boot: image }]);
    const first = hv.find('vanishing');
    // Gone before its restart: it resets at once and, having lived under 10 s, waits 100 ms first.
    unlinkSync(image.flat);
    expect(await first.settled()).toEqual({ end: 'reset', action: 'restart', restartError: expect.stringMatching(/ENOENT/) });
    expect(log.some((l) => /^domain 'vanishing' could not be restarted: .*ENOENT/.test(l))).toBe(true);
    expect(hv.list()).toEqual([]);
    expect(hv.pool.freeFrames).toBe(hv.pool.frames);
  });

  it('backs off the restarts of a domain that crashes at once, while the hypervisor and its other domains go on; xl destroy ends the loop', async () => {
    const { hv, log } = await boot([
      { name: 'compute', strategy: 'hw:vmx', memory: 4, boot: { compute: true } },
      { name: 'looping', strategy: 'hw:vmx', memory: 4, boot: flatBoot(dir, 'loop.bin', TRIPLE_FAULT), on_crash: 'restart' },
    ]);
    const counter = () => hv.find('compute').memory.read32(COMPUTE_COUNTER_ADDRESS);
    const delays = () => log.filter((l) => l.includes("'looping': on_crash=restart in ")).map((l) => Number(/in (\d+) ms/.exec(l)![1]));
    // The hypervisor's event loop while the domain crashes and is rebuilt: a 10 ms timer's worst lateness.
    let worst = 0;
    let last = performance.now();
    const ticker = setInterval(() => {
      const now = performance.now();
      worst = Math.max(worst, now - last - 10);
      last = now;
    }, 10);
    try {
      await until('five restarts', () => delays().length >= 5, 30_000);
      await until('compute runs', () => counter() > 1000);
    } finally {
      clearInterval(ticker);
    }
    expect(delays().slice(0, 5)).toEqual([100, 200, 400, 800, 1600]);
    const running = counter();
    await until('compute goes on', () => counter() > running + 1000);
    console.log(`restart loop: ${delays().length} restarts, the event loop's worst lateness ${worst.toFixed(0)} ms`);
    expect(worst).toBeLessThan(1000);

    // xl destroy during a back-off ends the loop: nothing is created under its name again.
    await until('a back-off', () => hv.find('looping').end !== null);
    const created = log.filter((l) => / 'looping' created/.test(l)).length;
    await hv.destroy('looping');
    expect(hv.list().map((d) => d.name)).toEqual(['compute']);
    await sleep(2 * delays().at(-1)!);
    expect(log.filter((l) => / 'looping' created/.test(l)).length).toBe(created);
    expect(hv.pool.freeFrames).toBe(hv.pool.frames - hv.find('compute').extent.count);
  }, 60_000);
});
