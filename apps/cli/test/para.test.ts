// Strategy `para` through the CLI: listed, boots the PV build of the minikernel (its scripted
// session is checked against the bare build's in minikernel.test.ts), counts what it does with
// --stats, and refuses images that do not match it in one line.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ringvisorDone } from './spawn.js';

/** hypervisor-type1's SMP test kernel: brings up every vCPU it has, then counts on each forever. */
const PV_SMP = new URL('../guests/pv-smp.elf', import.meta.resolve('@ringvisor/hypervisor-type1')).pathname;

function blankDisk(): string {
  const path = join(mkdtempSync(join(tmpdir(), 'para-')), 'disk.img');
  writeFileSync(path, new Uint8Array(1 << 20));
  return path;
}

describe('ringvisor --vmm para', () => {
  it('is listed as available', async () => {
    const vmms = await ringvisorDone(['vmms']);
    expect(vmms.stdout).toMatch(/^para +available +para-virtualization/m);
  });

  it('counts hypercalls by name, multicalls, events and ring requests with --stats', async () => {
    const result = await ringvisorDone(
      ['run', 'minikernel-pv', '--vmm', 'para', '--disk', blankDisk(), '--stats', '--max-time', '300'],
      'forkexec\ndisk\npoweroff\n',
    );
    expect(result.status).toBe(0);
    expect(result.stdout).toContain('minikernel shell: type help');
    const hypercalls = /^hypercalls: (\d+) \((.*)\)$/m.exec(result.stderr);
    expect(hypercalls).not.toBeNull();
    const byName = Object.fromEntries(hypercalls![2].split(', ').map((part) => {
      const [name, count] = part.split(' ');
      return [name, Number(count)];
    }));
    for (const name of ['iret', 'mmu_update', 'mmuext_op', 'event_channel_op', 'multicall']) expect(byName[name]).toBeGreaterThan(0);
    expect(Object.values(byName).reduce((a, b) => a + b, 0)).toBe(Number(hypercalls![1]));
    for (const counter of ['events delivered', 'events sent', 'multicall batches', 'ring requests']) {
      expect(result.stderr).toMatch(new RegExp(`${counter}: [1-9]\\d*`));
    }
  }, 320_000);

  it('refuses a kernel that is not para-virtualized, and none refuses a PV kernel, in one line', async () => {
    const notPv = await ringvisorDone(['run', 'hello', '--vmm', 'para', '--max-time', '60']);
    expect(notPv.status).not.toBe(0);
    expect(notPv.stderr.trim().split('\n')).toHaveLength(1);
    expect(notPv.stderr).toMatch(/para-virtualized kernels only/);
    const pvOnNone = await ringvisorDone(['run', 'minikernel-pv', '--max-time', '60']);
    expect(pvOnNone.status).not.toBe(0);
    expect(pvOnNone.stderr.trim().split('\n')).toHaveLength(1);
    expect(pvOnNone.stderr).toMatch(/cannot boot a para-virtualized \(Xen PV\) kernel; use --vmm para/);
  }, 120_000);

  it('runs every vCPU of a PV kernel with --vcpus, and refuses --vcpus where no second CPU can come up', async () => {
    // The kernel counts forever once its vCPUs are up: the time limit ends it (124).
    const smp = await ringvisorDone(['run', '--vmm', 'para', '--vcpus', '3', '--kernel', PV_SMP, '--stats', '--max-time', '15']);
    expect(smp.stdout).toContain('pv-smp: 3 vCPUs up');
    expect(smp.status).toBe(124);
    expect(smp.stderr).toMatch(/hypercall vcpu_op|vcpu_op \d+/);
    const hvm = await ringvisorDone(['run', 'hello', '--vcpus', '2', '--max-time', '60']);
    expect(hvm.status).toBe(2);
    expect(hvm.stderr.trim().split('\n')).toHaveLength(1);
    expect(hvm.stderr).toMatch(/--vcpus above 1 needs a para-virtual kernel under --vmm para/);
    const zero = await ringvisorDone(['run', '--vmm', 'para', '--vcpus', '0', '--kernel', PV_SMP]);
    expect(zero.status).toBe(2);
    expect(zero.stderr).toMatch(/bad count '0' for --vcpus/);
  }, 120_000);
});
