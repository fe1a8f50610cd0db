// xl reboot and on_crash=preserve through the control socket, as `ringvisor xl` drives them. A para
// domain (minikernel-pv with a disk) is asked through xenstore control/shutdown = reboot: it
// acknowledges and ends through sched_op(shutdown, reboot), and on_reboot=restart rebuilds it from
// its config under a new ID in frames freed and allocated again, with its disk, answering on its
// console. An hw:vmx domain has no PV control interface: refused, then reset with -F. A domain
// that triple faults with on_crash=preserve stays listed as crashed with its frames until destroy.
// Then xl reboot -a: stopped at the hw:vmx domain after asking pv, and with -F -w both.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { COMPUTE_COUNTER_ADDRESS, ControlServer, Type1Hypervisor, parsePlatform, type DomainInfo, type ShutdownResult } from '../dist/index.js';
import { attachConsole, xl } from './control-client.js';
import { TRIPLE_FAULT, flatBoot } from './tiny-guests.js';
import { until } from './until.js';

const strategies = [
  { name: 'hw:vmx', module: import.meta.resolve('@ringvisor/vmm-hw'), exportName: 'vmxStrategy' },
  { name: 'para', module: import.meta.resolve('@ringvisor/vmm-para'), exportName: 'paraStrategy' },
];
const dir = mkdtempSync(join(tmpdir(), 'ringvisor-type1-reboot-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const SHELL = 'minikernel shell: type help';

describe('xl reboot', () => {
  it('reboots a para domain into a new ID that answers on its console and uses its disk; -F resets an hw:vmx one; a crashed domain is preserved until xl destroy frees its frames', async () => {
    const disk = join(dir, 'pv.img');
    writeFileSync(disk, new Uint8Array(64 * 1024));
    const consoles = new Map<string, string>();
    const log: string[] = [];
    const platform = parsePlatform(JSON.stringify({
      pcpus: 2, memory: 96, domains: [
        { name: 'pv', strategy: 'para', memory: 32, affinity: [1], boot: { guest: 'minikernel-pv' }, disk: { file: disk } },
        { name: 'compute', strategy: 'hw:vmx', memory: 4, boot: { compute: true } },
      ],
    }));
    const h = await Type1Hypervisor.start({
      platform, strategies, log: (line) => log.push(line),
      console: (domain, bytes) => consoles.set(domain.name, (consoles.get(domain.name) ?? '') + Buffer.from(bytes).toString('latin1')),
    });
    const socket = join(dir, 'control.sock');
    const server = await ControlServer.listen(h, socket).catch(async (error: unknown) => {
      await h.shutdown();
      throw error;
    });
    try {
      const list = async () => {
        const answer = await xl(socket, { cmd: 'list' });
        if (!answer.ok) throw new Error(answer.error);
        return answer.result as DomainInfo[];
      };
      const shells = () => (consoles.get('pv') ?? '').split(SHELL).length - 1;
      await until('the pv shell', () => shells() === 1, 120_000);

      // The para domain: asked through xenstore, it reboots, and on_reboot (restart by default) rebuilds it.
      const free = h.pool.freeFrames;
      const frames = h.find('pv').extent.count;
      const rebooted = await xl(socket, { cmd: 'reboot', domain: 'pv', wait: true });
      expect(rebooted).toEqual({ ok: true, result: { id: 1, name: 'pv', via: 'control/shutdown', end: 'reset', action: 'restart', restartedAs: 3 } });
      expect(consoles.get('pv')).toContain('minikernel: reboot requested by the toolstack');
      for (const line of [
        "domain 1 'pv': xenstore control/shutdown = reboot", "domain 1 'pv' shut down: reset",
        // It booted less than 10 s ago: a quick end, so its restart waits the first back-off (lifecycle.ts).
        "domain 1 'pv': on_reboot=restart in 100 ms (quick end 1 in a row)", `domain 1 'pv' destroyed: ${frames} frames back in the pool`, "domain 1 'pv' restarted as domain 3",
      ]) expect(log).toContain(line);
      expect(log.some((l) => l.startsWith("domain 3 'pv' created: para, 32 MiB"))).toBe(true);
      expect(h.pool.framesOf(1)).toBe(0);
      expect(h.pool.framesOf(3)).toBe(frames);
      expect(h.pool.freeFrames).toBe(free);
      await until('the pv shell again', () => shells() === 2, 120_000);
      const rows = await list();
      expect(rows.map((d) => [d.name, d.id, d.end])).toEqual([['compute', 2, null], ['pv', 3, null]]);
      expect(rows.find((d) => d.name === 'pv')!.state).toMatch(/^[r-][b-]----$/);
      // Its console over the control socket, as xl console: it answers, and its disk is attached again.
      const con = attachConsole(socket, 'pv');
      try {
        // What the new domain printed so far comes first: its boot up to the shell.
        await until('the console attached', () => con.output().includes(SHELL));
        expect(con.output()).not.toContain('reboot requested');
        con.type('disk\n');
        await until('the disk command', () => /disk: [^\n]*(identical|DIFFERENT|no disk)/.test(con.output()));
        expect(con.output()).toContain('disk: 128 sectors; wrote sector 1 ok, read back identical');
    } finally {
      con.close();
    }

    // An hw:vmx domain has no PV control interface: refused as xl refuses without -F, reset with it.
    const refused = await xl(socket, { cmd: 'reboot', domain: 'compute' });
    expect(!refused.ok && refused.error).toMatch(/'compute' \(hw:vmx\) has no PV control interface: a graceful reboot is not possible \(-F resets it/);
    expect(await xl(socket, { cmd: 'reboot', domain: 'compute', force: true, wait: true }))
      .toEqual({ ok: true, result: { id: 2, name: 'compute', via: 'reset', end: 'reset by the toolstack', action: 'restart', restartedAs: 4 } });
    // Rebuilt: its work counter starts again from zero in the new domain's frames.
    await until('the new compute domain computes', () => h.find('compute').memory.read32(COMPUTE_COUNTER_ADDRESS) > 1000);
    expect(h.find('compute').id).toBe(4);

    // on_crash=preserve: the crashed domain stays listed (xl's ---sc-) with its frames until xl destroy.
    const crasher = { name: 'crasher', strategy: 'hw:vmx', memory: 4, boot: flatBoot(dir, 'crash.bin', TRIPLE_FAULT), on_crash: 'preserve' };
    expect(await xl(socket, { cmd: 'create', text: JSON.stringify(crasher), source: 'crasher.json' })).toEqual({ ok: true, result: { id: 5, name: 'crasher' } });
    await until('the crash', () => h.find('crasher').end !== null);
    expect((await list()).find((d) => d.name === 'crasher')).toMatchObject({ id: 5, state: '---sc-', end: expect.stringMatching(/^triple fault/) });
    const kept = h.find('crasher').extent.count;
    expect(h.pool.framesOf(5)).toBe(kept);
    for (const cmd of ['shutdown', 'reboot'] as const) {
      const again = await xl(socket, { cmd, domain: 'crasher' });
      expect(!again.ok && again.error).toMatch(/'crasher' has already ended \(triple fault/);
    }
    const before = h.pool.freeFrames;
    expect(await xl(socket, { cmd: 'destroy', domain: 'crasher' })).toEqual({ ok: true, result: null });
    expect(h.pool.freeFrames).toBe(before + kept);
    expect(h.pool.framesOf(5)).toBe(0);
    expect((await list()).map((d) => [d.name, d.id])).toEqual([['pv', 3], ['compute', 4]]);

    // xl reboot -a, as xl: every running domain in ID order; pv (3) is asked, then compute (4) has
    // no PV control interface, which ends the command there.
    for (const bad of [{ cmd: 'shutdown' }, { cmd: 'reboot', domain: 'pv', all: true }] as const) {
      expect(await xl(socket, bad)).toEqual({ ok: false, error: `${bad.cmd}: name one domain or ask for all of them` });
    }
    const all = await xl(socket, { cmd: 'reboot', all: true });
    expect(!all.ok && all.error).toBe("domain 'compute' (hw:vmx) has no PV control interface: a graceful reboot is not possible (-F resets it; the guest is not asked)\nasked before it: domain 3 'pv'");
    await until('pv rebooted by reboot -a', () => log.includes("domain 3 'pv' restarted as domain 6"), 120_000);
    // With force (-F) and wait (-w): both, in ID order, each answered once its on_reboot was done.
    const forced = await xl(socket, { cmd: 'reboot', all: true, force: true, wait: true });
    expect(forced.ok && (forced.result as ShutdownResult[]).map((r) => [r.id, r.name, r.via, r.end, r.action])).toEqual([
      [4, 'compute', 'reset', 'reset by the toolstack', 'restart'], [6, 'pv', 'control/shutdown', 'reset', 'restart'],
    ]);
    expect((await list()).map((d) => d.name).sort()).toEqual(['compute', 'pv']);
    } finally {
      await server.close();
      await h.shutdown();
    }
  }, 300_000);
});
