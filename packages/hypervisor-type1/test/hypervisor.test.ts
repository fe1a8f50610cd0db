// The hypervisor on real pCPU workers: compute domains under hw:vmx and full sharing two pCPUs,
// moving between them, paused, destroyed and created while the others run.
import { afterEach, describe, expect, it } from 'vitest';
import { COMPUTE_COUNTER_ADDRESS, DEFAULT_ACTIONS, FRAME_SIZE, Type1Hypervisor, parsePlatform, type DomainConfig } from '../dist/index.js';

const strategies = [
  { name: 'hw:vmx', module: import.meta.resolve('@ringvisor/vmm-hw'), exportName: 'vmxStrategy' },
  { name: 'para', module: import.meta.resolve('@ringvisor/vmm-para'), exportName: 'paraStrategy' },
  { name: 'full', module: import.meta.resolve('@ringvisor/vmm-full'), exportName: 'fullStrategy' },
];
const compute = (name: string, extra: object = {}) => ({ name, strategy: 'hw:vmx', memory: 4, boot: { compute: true }, ...extra });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let hv: Type1Hypervisor | null = null;
afterEach(async () => {
  await hv?.shutdown();
  hv = null;
});

async function boot(domains: object[], pcpus = 2): Promise<{ hv: Type1Hypervisor; consoles: Map<string, string>; log: string[] }> {
  const consoles = new Map<string, string>();
  const log: string[] = [];
  const platform = parsePlatform(JSON.stringify({ pcpus, memory: 64, domains }));
  hv = await Type1Hypervisor.start({
    platform, strategies, log: (line) => log.push(line),
    console: (domain, bytes) => consoles.set(domain.name, (consoles.get(domain.name) ?? '') + Buffer.from(bytes).toString('latin1')),
  });
  return { hv, consoles, log };
}

async function until(what: string, check: () => boolean, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

const rounds = (h: Type1Hypervisor, name: string) => h.find(name).memory.read32(COMPUTE_COUNTER_ADDRESS);

/** The compute guest's EBX after `n` xorshift rounds, and the partial values inside round n+1. */
function reachable(n: number): number[] {
  let x = 0x2545f491;
  for (let i = 0; i < n; i++) {
    x = (x ^ (x << 13)) >>> 0;
    x = (x ^ (x >>> 17)) >>> 0;
    x = (x ^ (x << 5)) >>> 0;
  }
  const a = (x ^ (x << 13)) >>> 0;
  const b = (a ^ (a >>> 17)) >>> 0;
  return [x, a, b, (b ^ (b << 5)) >>> 0];
}

describe('Type1Hypervisor', () => {
  it('runs three compute domains on two pCPUs; vCPUs migrate and their guests compute on correctly', async () => {
    const { hv, consoles } = await boot([compute('a'), compute('b', { weight: 512 }), compute('c')]);
    await until('three consoles', () => ['a', 'b', 'c'].every((n) => consoles.get(n)?.includes('compute: xorshift rounds at 0x101000')));
    await until('migrations', () => ['a', 'b', 'c'].some((n) => hv.migrations(n) >= 3));
    const before = ['a', 'b', 'c'].map((n) => rounds(hv, n));
    await sleep(300);
    for (const [i, n] of ['a', 'b', 'c'].entries()) expect(rounds(hv, n), n).toBeGreaterThan(before[i]);
    for (const n of ['a', 'b', 'c']) hv.pause(n);
    await until('paused', () => hv.list().every((d) => d.state === '--p---'));
    for (const n of ['a', 'b', 'c']) {
      // Registers that crossed pCPUs agree with the work counted in RAM: no state was lost on the way.
      const count = rounds(hv, n);
      expect(reachable(count), `${n} after ${count} rounds and ${hv.migrations(n)} migrations`).toContain(hv.vcpuState(n)!.regs.ebx);
    }
    const list = hv.list();
    expect(list.map((d) => [d.name, d.id, d.memoryMiB, d.vcpus])).toEqual([['a', 1, 4, 1], ['b', 2, 4, 1], ['c', 3, 4, 1]]);
    for (const d of list) expect(d.cpuSeconds).toBeGreaterThan(0);
    const paused = ['a', 'b', 'c'].map((n) => rounds(hv, n));
    await sleep(100);
    expect(['a', 'b', 'c'].map((n) => rounds(hv, n))).toEqual(paused);
    hv.unpause('a');
    await until('a runs again', () => rounds(hv, 'a') > paused[0]);
  });

  it('destroys a domain while others run, returns its frames, and creates a new one in them', async () => {
    const { hv, log } = await boot([compute('a'), compute('b'), compute('c')]);
    await until('all running', () => ['a', 'b', 'c'].every((n) => rounds(hv, n) > 1000));
    const free = hv.pool.freeFrames;
    const frames = hv.find('b').extent;
    await hv.destroy('b');
    expect(hv.pool.freeFrames).toBe(free + frames.count);
    expect(hv.pool.framesOf(2)).toBe(0);
    expect(log.some((l) => l.includes(`domain 2 'b' destroyed: ${frames.count} frames back in the pool`))).toBe(true);
    expect(() => hv.find('b')).toThrow(/no domain 'b'/);
    const config: DomainConfig = { name: 'd', strategy: 'hw:vmx', memoryMiB: 4, vcpus: 1, weight: 256, cap: 0, affinity: [0, 1], boot: { kind: 'compute' }, autostart: true, on: DEFAULT_ACTIONS };
    const d = hv.create(config);
    expect(d.extent.first).toBe(frames.first);
    expect(d.extent.count * FRAME_SIZE).toBe(frames.count * FRAME_SIZE);
    const others = ['a', 'c'].map((n) => rounds(hv, n));
    await until('d computes', () => rounds(hv, 'd') > 1000);
    await until('a and c go on', () => rounds(hv, 'a') > others[0] && rounds(hv, 'c') > others[1]);
  });

  it('a domain that exits or cannot go on stops alone', async () => {
    const { hv } = await boot([
      compute('a'),
      { name: 'hello', strategy: 'hw:vmx', memory: 4, boot: { guest: 'hello' }, on_poweroff: 'preserve' },
    ]);
    await until('hello exits', () => hv.list().find((d) => d.name === 'hello')?.end === 'exit code 0');
    expect(hv.list().find((d) => d.name === 'hello')!.state).toBe('---s--');
    const a = rounds(hv, 'a');
    await until('a goes on', () => rounds(hv, 'a') > a);
  });

  it('serves device models on a pinned vCPU\'s own pCPU and on the device-model thread alike: PIT and PIC interrupts, COM1 input, the exit port', async () => {
    const guest = (name: string, image: string, extra: object = {}) => ({ name, strategy: 'hw:vmx', memory: 16, boot: { guest: image }, on_poweroff: 'preserve', ...extra });
    const { hv, consoles, log } = await boot([
      guest('irq-local', 'irq-test', { affinity: [1] }), guest('irq-thread', 'irq-test'),
      guest('demo-local', 'demo', { affinity: [0] }), guest('demo-thread', 'demo'),
    ]);
    expect(log.filter((l) => l.includes('device models on pCPU')).map((l) => /'([\w-]+)'/.exec(l)![1])).toEqual(['irq-local', 'demo-local']);
    const out = (name: string) => consoles.get(name) ?? '';
    const end = (name: string) => hv.list().find((d) => d.name === name)?.end;
    // irq-test counts 100 Hz PIT ticks across one RTC second: interrupts and both timers work on either side.
    await until('both irq-tests', () => end('irq-local') !== undefined && end('irq-thread') !== undefined && end('irq-local') !== null && end('irq-thread') !== null);
    for (const name of ['irq-local', 'irq-thread']) {
      expect(out(name), name).toContain('irq-test: PASS');
      expect(end(name), name).toBe('exit code 0');
    }
    for (const name of ['demo-local', 'demo-thread']) {
      await until(`${name} banner`, () => out(name).includes('Ringvisor demo'));
      hv.consoleInput(hv.find(name), Buffer.from('help\r'));
      await until(`${name} help`, () => /help {6}this list/.test(out(name)));
      hv.consoleInput(hv.find(name), Buffer.from('poweroff\r'));
      await until(`${name} powers off`, () => end(name) === 'exit code 0');
      expect(out(name)).toContain('Powering off');
    }
    expect(() => hv.pin('demo-local', [1])).toThrow(/'demo-local' stays on pCPU 0, where its device models live/);
  });

  it('runs a para-virtual domain resident on one pCPU beside compute domains', async () => {
    const { hv, consoles } = await boot([
      { name: 'pv', strategy: 'para', memory: 32, affinity: [1], boot: { guest: 'minikernel-pv' } }, compute('a'), compute('b'),
    ]);
    const pvOut = () => consoles.get('pv') ?? '';
    await until('the PV shell', () => pvOut().includes('minikernel shell: type help'));
    hv.consoleInput(hv.find('pv'), Buffer.from('forkexec\n'));
    await until('forkexec', () => pvOut().includes("forkexec: 32 children exec'd and reaped"));
    hv.consoleInput(hv.find('pv'), Buffer.from('ps\n'));
    await until('ps', () => pvOut().includes('PID  PPID  STATE'));
    const pv = hv.vcpuList().find((v) => v.name === 'pv')!;
    expect(pv.affinity).toEqual([1]);
    expect(pv.secondsOn[0]).toBe(0);
    expect(() => hv.pin('pv', [0])).toThrow(/'pv' \(para\) stays on pCPU 1/);
    expect(hv.migrations('pv')).toBe(0);
    const a = rounds(hv, 'a');
    await until('a goes on', () => rounds(hv, 'a') > a);
  });

  it('moves a full-virtualization domain between pCPUs; its guest computes on correctly, and vcpu-pin moves it', async () => {
    const { hv, consoles } = await boot([compute('f', { strategy: 'full' }), compute('a'), compute('b')]);
    await until('f computes', () => rounds(hv, 'f') > 1000);
    expect(consoles.get('f')).toContain('compute: xorshift rounds at 0x101000');
    const f = hv.find('f');
    // 4 MiB of guest RAM, then the VMM's frames (translation cache, shadow tables) at the next 4 MiB.
    expect(f.p2m.frames).toBe(1024);
    expect(f.extent.count).toBeGreaterThan(1024);
    expect(hv.vcpuList().find((v) => v.name === 'f')!.affinity).toEqual([0, 1]);
    await until('f migrates', () => hv.migrations('f') >= 50, 60_000);
    const before = rounds(hv, 'f');
    await sleep(200);
    expect(rounds(hv, 'f')).toBeGreaterThan(before);
    hv.pin('f', [1]);
    await sleep(200);
    const on0 = hv.vcpuList().find((v) => v.name === 'f')!.secondsOn[0];
    const pinned = rounds(hv, 'f');
    await until('f computes on pCPU 1 alone', () => rounds(hv, 'f') > pinned + 1000);
    expect(hv.vcpuList().find((v) => v.name === 'f')!.secondsOn[0]).toBe(on0);
    hv.pause('f');
    await until('f paused', () => hv.list().find((d) => d.name === 'f')!.state === '--p---');
    // Registers that crossed pCPUs agree with the work counted in RAM: no state was lost on the way.
    const count = rounds(hv, 'f');
    expect(reachable(count), `f after ${count} rounds and ${hv.migrations('f')} migrations`).toContain(hv.vcpuState('f')!.regs.ebx);
    await hv.destroy('f');
    expect(hv.pool.framesOf(f.id)).toBe(0);
  });

  it('moves a full-virtualization minikernel (paging, ring-3 processes) between pCPUs while its shell works', async () => {
    const { hv, consoles } = await boot([{ name: 'mk', strategy: 'full', memory: 16, boot: { guest: 'minikernel' } }, compute('a'), compute('b')]);
    const out = () => consoles.get('mk') ?? '';
    await until('the shell', () => out().includes('minikernel shell: type help'), 60_000);
    hv.consoleInput(hv.find('mk'), Buffer.from('forkexec\n'));
    await until('forkexec', () => out().includes("forkexec: 32 children exec'd and reaped, exit status sum 11440"), 60_000);
    hv.consoleInput(hv.find('mk'), Buffer.from('pagefault\n'));
    await until('pagefault', () => out().includes("64 copy-on-write faults; parent's pages intact"), 60_000);
    expect(hv.migrations('mk')).toBeGreaterThan(20);
  });

  it('refuses what it cannot run', async () => {
    const { hv } = await boot([], 1);
    const config: DomainConfig = { name: 'v', strategy: 'hw:vmx', memoryMiB: 128, vcpus: 1, weight: 256, cap: 0, affinity: [0], boot: { kind: 'compute' }, autostart: true, on: DEFAULT_ACTIONS };
    expect(() => hv.create(config)).toThrow(/the RAM pool has no 32768 contiguous free frames/);
    expect(() => hv.create({ ...config, memoryMiB: 4, affinity: [3] })).toThrow(/affinity: pCPU 3 does not exist/);
    expect(hv.pool.freeFrames).toBe(hv.pool.frames);
  });
});
