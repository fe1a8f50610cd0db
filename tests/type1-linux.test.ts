// Issue #16, proof 1, as a user runs it: `ringvisor type1 PLATFORM.json` on 2 pCPUs with two Linux
// domains under different strategies (hw:vmx and full, Debian's kernel and the initramfs of
// tools/linux-guest.mjs) and two compute domains; both shells answer a command typed at their
// console (Ctrl-A N switches), and `ringvisor xl list` shows all four with CPU time.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { guest, skipReason, type Guest } from './linux-boot.js';

const cli = join(resolve(import.meta.dirname, '..'), 'apps', 'cli', 'dist', 'main.js');
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
    const started = Date.now();
    const child = spawn(process.execPath, [cli, 'type1', file], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    const waiters: (() => void)[] = [];
    child.stdout.on('data', (b: Buffer) => { out += b.toString('latin1'); waiters.splice(0).forEach((w) => w()); });
    child.stderr.on('data', (b: Buffer) => { err += b.toString('latin1'); });
    child.on('exit', () => waiters.splice(0).forEach((w) => w()));
    /** Before the test's own timeout: a failure that shows the consoles and the domains' states. */
    const deadline = started + 1_440_000;
    const stuck = (pattern: RegExp): Error => {
      const xl = spawnSync(process.execPath, [cli, 'xl', '-s', socket, 'list'], { encoding: 'utf8', timeout: 30_000 });
      return new Error(`no ${pattern} after ${((Date.now() - started) / 1000).toFixed(0)} s\n${xl.stdout}${xl.stderr}\n${out.slice(-3000)}`);
    };
    /** Resolves once `pattern` matches the console (from `from` on); the index after the match. */
    const waitFor = (pattern: RegExp, from = 0) => new Promise<number>((done, fail) => {
      const timer = setTimeout(() => fail(stuck(pattern)), Math.max(0, deadline - Date.now()));
      const check = (): void => {
        const match = pattern.exec(out.slice(from));
        if (match) {
          clearTimeout(timer);
          done(from + match.index + match[0].length);
        } else if (child.exitCode !== null) {
          clearTimeout(timer);
          fail(new Error(`type1 ended before ${pattern}: ${err.trim()}\n${out.slice(-3000)}`));
        } else waiters.push(check);
      };
      check();
    });
    try {
      // The multiplexer prints a domain's open line (the prompt, then ash's cursor query) after a pause.
      await Promise.all([waitFor(/^\[linux-vmx\] \/ # /m), waitFor(/^\[linux-full\] \/ # /m)]);
      const shells = (Date.now() - started) / 1000;
      const release = g.release.replace(/\./g, '\\.');
      /** Types `line` at domain `id`'s console; its output lines must include each answer, in order. */
      const ask = async (id: number, name: string, line: string, answers: readonly string[]) => {
        let from = out.length;
        child.stdin.write(`\x01${id}`);
        child.stdin.write(`${line}\n`);
        for (const answer of answers) from = await waitFor(new RegExp(`^\\[${name}\\] ${answer}$`, 'm'), from);
      };
      await ask(1, 'linux-vmx', 'echo vmx-$((6 * 7)); uname -r', ['vmx-42', release]);
      await ask(2, 'linux-full', 'echo full-$((6 * 7)); uname -r', ['full-42', release]);

      const xl = spawnSync(process.execPath, [cli, 'xl', '-s', socket, 'list'], { encoding: 'utf8', timeout: 60_000 });
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
      console.log(`type1: both Linux shells after ${shells.toFixed(0)} s, the whole check ${((Date.now() - started) / 1000).toFixed(0)} s\n${xl.stdout}`);
      child.stdin.write('\x01x');
      expect(await new Promise((done) => child.once('exit', done))).toBe(0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      rmSync(scratch, { recursive: true, force: true });
    }
  }, 1_500_000);
});
