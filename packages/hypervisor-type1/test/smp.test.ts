// A domain with several vCPUs: guests/pv-smp.elf, an x86-32 PV kernel, brings up its other vCPUs
// with VCPUOP_initialise/up; the scheduler runs each of them (they share the pCPU the para domain
// is resident on), an IPI from one wakes vCPU 0 blocked in sched_op, and every vCPU gets CPU time.
// Beside it a compute domain keeps the other pCPU. The platform refuses SMP where it cannot work.
import { describe, expect, it } from 'vitest';
import { COMPUTE_COUNTER_ADDRESS, Type1Hypervisor, parseDomain, parsePlatform } from '../dist/index.js';
import { sleep, until } from './until.js';

const strategies = [
  { name: 'hw:vmx', module: import.meta.resolve('@ringvisor/vmm-hw'), exportName: 'vmxStrategy' },
  { name: 'para', module: import.meta.resolve('@ringvisor/vmm-para'), exportName: 'paraStrategy' },
];
const PV_SMP = new URL('../guests/pv-smp.elf', import.meta.url).pathname;

describe('SMP domains', () => {
  it('runs every vCPU of a para domain: brought up by its guest, scheduled, woken by an IPI', async () => {
    const platform = parsePlatform(JSON.stringify({
      pcpus: 2, memory: 64,
      domains: [
        { name: 'smp', strategy: 'para', memory: 16, vcpus: 3, affinity: [1], boot: { pv: PV_SMP } },
        { name: 'compute', strategy: 'hw:vmx', memory: 4, affinity: [0], boot: { compute: true } },
      ],
    }));
    let console = '';
    const hv = await Type1Hypervisor.start({
      platform, strategies, log: () => {},
      console: (domain, bytes) => {
        if (domain.name === 'smp') console += Buffer.from(bytes).toString('latin1');
      },
    });
    try {
      await until('the guest reports its vCPUs up', () => console.includes('pv-smp: 3 vCPUs up'));
      expect(hv.list().find((d) => d.name === 'smp')!.vcpus).toBe(3);
      const rows = () => hv.vcpuList().filter((v) => v.name === 'smp');
      expect(rows().map((v) => v.vcpu)).toEqual([0, 1, 2]);
      // All count forever: each vCPU gets time, all of it on the domain's pCPU.
      await until('every vCPU ran', () => rows().every((v) => v.cpuSeconds > 0.05));
      const before = rows().map((v) => v.cpuSeconds);
      await sleep(400);
      const after = rows();
      for (const [i, row] of after.entries()) {
        expect(row.cpuSeconds, `vCPU ${i} runs on`).toBeGreaterThan(before[i]);
        expect(row.secondsOn[0]).toBe(0);
        expect(row.affinity).toEqual([1]);
      }
      // xl vcpu-set: asked of a para guest (this one has no watch on it), refused past its vCPUs and for hw:vmx.
      expect(hv.setVcpus('smp', 2).name).toBe('smp');
      expect(() => hv.setVcpus('smp', 4)).toThrow(/can have 1 to 3 vCPUs online/);
      expect(() => hv.setVcpus('smp', 0)).toThrow(/can have 1 to 3/);
      expect(() => hv.setVcpus('compute', 1)).toThrow(/no PV control interface/);
      // The compute domain keeps its pCPU meanwhile.
      const counter = hv.find('compute').memory.read32(COMPUTE_COUNTER_ADDRESS);
      await until('compute runs', () => hv.find('compute').memory.read32(COMPUTE_COUNTER_ADDRESS) !== counter);
      // Pausing stops every vCPU; destroying returns the frames.
      hv.pause('smp');
      await until('paused', () => rows().every((v) => v.state === 'p'));
      const paused = rows().map((v) => v.cpuSeconds);
      await sleep(200);
      expect(rows().map((v) => v.cpuSeconds)).toEqual(paused);
      hv.unpause('smp');
      await until('running again', () => rows().some((v, i) => v.cpuSeconds > paused[i]));
      const free = hv.pool.freeFrames;
      const frames = hv.find('smp').extent.count;
      await hv.destroy('smp');
      expect(hv.pool.freeFrames).toBe(free + frames);
      expect(hv.vcpuList().filter((v) => v.name === 'smp')).toEqual([]);
    } finally {
      await hv.shutdown();
    }
  }, 60_000);

  it('restarts an SMP domain that powers off while its other vCPUs still run', async () => {
    // vCPU 0 powers off after 11 s (a domain that lived 10 s restarts at once) with the others
    // runnable: none of them may be dispatched after the end, or the restart would find one on the
    // pCPU (which once stopped the hypervisor).
    const platform = parsePlatform(JSON.stringify({
      pcpus: 1, memory: 64,
      domains: [{ name: 'smp', strategy: 'para', memory: 16, vcpus: 3, on_poweroff: 'restart', boot: { pv: PV_SMP, cmdline: 'poweroff' } }],
    }));
    const log: string[] = [];
    const hv = await Type1Hypervisor.start({ platform, strategies, log: (line) => log.push(line) });
    try {
      await until('two restarts', () => log.some((line) => line.includes('restarted as domain 3')), 60_000);
      expect(log.filter((line) => line.includes('shut down: power-off'))).toHaveLength(2);
      expect(log.filter((line) => line.includes('on_poweroff=restart in'))).toEqual([]);
      expect(hv.list().map((d) => [d.name, d.id])).toEqual([['smp', 3]]);
    } finally {
      await hv.shutdown();
    }
  }, 90_000);

  it('refuses vCPUs a domain cannot bring up', () => {
    expect(() => parseDomain(JSON.stringify({ name: 'h', strategy: 'hw:vmx', memory: 4, vcpus: 2, boot: { compute: true } }), 2))
      .toThrow(/vcpus: more than one vCPU needs strategy para/);
    expect(() => parseDomain(JSON.stringify({ name: 'p', strategy: 'para', memory: 16, vcpus: 33, boot: { pv: PV_SMP } }), 2))
      .toThrow(/vcpus/);
  });
});
