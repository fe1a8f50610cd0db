// Issue #16, proof 1, as a user runs it: `ringvisor type1 PLATFORM.json` on 2 pCPUs with two Linux
// domains under different strategies (hw:vmx and full, Debian's kernel and the initramfs of
// tools/linux-guest.mjs) and two compute domains; both shells answer a command typed at their
// console (Ctrl-A N switches), and `ringvisor xl list` shows all four with CPU time. Then the
// hw:vmx kernel reboots itself (`reboot` at its shell): it resets its board, and on_reboot=restart
// (xl's default) rebuilds the domain under a new ID, which boots to its shell again.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { guest, skipReason, type Guest } from './linux-boot.js';
import { startType1 } from './type1-console.js';

/** The options tests/linux-boot.ts documents for short-lived VMs. */
const APPEND = 'console=ttyS0 quiet cryptomgr.notests noisapnp';

describe.skipIf(!!skipReason)('type-1 hypervisor with two Linux domains and two compute domains', () => {
  it('boots both shells (hw:vmx and full) on 2 pCPUs; each answers at its console; xl list shows all four with CPU time', async () => {
    const g = guest as Guest;
    const scratch = mkdtempSync(join(tmpdir(), 'ringvisor-type1-'));
    const socket = join(scratch, 'xl.sock');
    const linux = { kernel: g.bzImage, initrd: g.initrd, cmdline: APPEND };
    const platform = {
      pcpus: 2, memory: 384, control: socket,
      domains: [
        // One Linux domain on each pCPU: a vCPU that never moves has its device models on its pCPU.
        { name: 'linux-vmx', strategy: 'hw:vmx', memory: 128, affinity: [1], boot: linux },
        { name: 'linux-full', strategy: 'full', memory: 128, affinity: [0], boot: linux },
        // Two compute guests beside them, free to run anywhere, capped so the kernels boot in minutes.
        { name: 'compute-a', strategy: 'hw:vmx', memory: 4, cap: 10, boot: { compute: true } },
        { name: 'compute-b', strategy: 'hw:vmx', memory: 4, cap: 10, boot: { compute: true } },
      ],
    };
    const file = join(scratch, 'platform.json');
    writeFileSync(file, JSON.stringify(platform));
    const t1 = startType1(file, socket, 1_440_000);
    try {
      // The multiplexer prints a domain's open line (the prompt, then ash's cursor query) after a pause.
      await Promise.all([t1.waitFor(/^\[linux-vmx\] \/ # /m), t1.waitFor(/^\[linux-full\] \/ # /m)]);
      const shells = (Date.now() - t1.started) / 1000;
      const release = g.release.replace(/\./g, '\\.');
      await t1.ask(1, 'linux-vmx', 'echo vmx-$((6 * 7)); uname -r', ['vmx-42', release]);
      await t1.ask(2, 'linux-full', 'echo full-$((6 * 7)); uname -r', ['full-42', release]);

      const xl = t1.xl('list');
      expect(xl.status, xl.stderr).toBe(0);
      const [header, ...rows] = xl.stdout.trim().split('\n');
      expect(header.split(/\s+/)).toEqual(['Name', 'ID', 'Mem', 'VCPUs', 'State', 'Time(s)']);
      const table = rows.map((row) => row.trim().split(/\s+/));
      expect(table.map((r) => r.slice(0, 4))).toEqual([
        ['linux-vmx', '1', '128', '1'], ['linux-full', '2', '128', '1'], ['compute-a', '3', '4', '1'], ['compute-b', '4', '4', '1'],
      ]);
      for (const r of table) {
        // Running, runnable or blocked: none paused, shut down or crashed.
        expect(r[4], r[0]).toMatch(/^[r-][b-]----$/);
        expect(Number(r[5]), `${r[0]} CPU time`).toBeGreaterThan(0);
      }
      console.log(`type1: both Linux shells after ${shells.toFixed(0)} s, the whole check ${((Date.now() - t1.started) / 1000).toFixed(0)} s\n${xl.stdout}`);

      // The rest needs only linux-vmx: the others' pCPU threads would slow the host for the tests beside this one.
      for (const name of ['linux-full', 'compute-a', 'compute-b']) expect(t1.xl('destroy', name).status).toBe(0);
      const from = t1.output().length;
      await t1.ask(1, 'linux-vmx', 'reboot', []);
      await t1.waitFor(/^\(type1\) domain 1 'linux-vmx' shut down: reset$/m, from);
      const restart = await t1.waitFor(/^\(type1\) domain 1 'linux-vmx' restarted as domain 5$/m, from);
      await t1.waitFor(/^\[linux-vmx\] \/ # /m, restart);
      const again = (Date.now() - t1.started) / 1000 - shells;
      await t1.ask(5, 'linux-vmx', 'echo again-$((6 * 7))', ['again-42']);
      expect(t1.xl('list').stdout).toMatch(/^linux-vmx\s+5\s+128\s+1\s+[r-][b-]----/m);
      console.log(`type1: the hw:vmx kernel rebooted into domain 5, its shell ${again.toFixed(0)} s after the first`);
      expect(await t1.quit()).toBe(0);
    } finally {
      t1.kill();
      rmSync(scratch, { recursive: true, force: true });
    }
  }, 1_500_000);
});
