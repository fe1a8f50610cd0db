// `ringvisor type1` with `ringvisor xl` against it, as an administrator uses them: a platform of
// compute domains and the bundled hello, then list, create, pin, scheduling, shutdown (ACPI and
// xenstore), console and destroy.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { ringvisor, ringvisorDone } from './spawn.js';

const dir = mkdtempSync(join(tmpdir(), 'ringvisor-type1-'));
const socket = join(dir, 'xl.sock');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, content: unknown): string {
  const path = join(dir, name);
  writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
  return path;
}

const xl = (...args: string[]) => ringvisorDone(['xl', '-s', socket, ...args]);

/** Polls `check` every 50 ms until it holds; throws after `ms`. */
async function until(what: string, check: () => boolean, ms = 20_000): Promise<void> {
  for (const end = Date.now() + ms; !check();) {
    if (Date.now() > end) throw new Error(`no ${what} after ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** A domain's console text, its prefixed lines joined (a line goes out in parts when the guest pauses mid-line). */
const printed = (stdout: string, name: string) => stdout.split('\n').filter((l) => l.startsWith(`[${name}] `)).map((l) => l.slice(name.length + 3)).join('');
/** The hypervisor package's test guest that powers off on the ACPI power button (shipped in its guests/). */
const buttonGuest = join(dirname(fileURLToPath(import.meta.resolve('@ringvisor/hypervisor-type1/package.json'))), 'guests', 'acpi-button.bin');

describe('ringvisor type1 and xl', () => {
  it('boots a platform and manages its domains over the control socket', async () => {
    const platform = file('platform.json', {
      pcpus: 2, memory: 64, control: socket,
      domains: [
        { name: 'alpha', strategy: 'hw:vmx', memory: 4, boot: { compute: true } },
        { name: 'beta', strategy: 'hw:vmx', memory: 4, weight: 512, boot: { compute: true } },
        { name: 'hello', strategy: 'hw:vmx', memory: 4, boot: { guest: 'hello' }, on_poweroff: 'preserve' },
      ],
    });
    const hv = ringvisor(['type1', platform]);
    try {
      await hv.waitFor('xl control socket');
      await hv.waitFor('[hello] Hello from protected'); // a line may go out in two parts when the guest pauses mid-line
      await hv.waitFor("(type1) domain 3 'hello' shut down: exit code 0");
      await hv.waitFor('[alpha] compute: xorshift rounds at 0x101000');

      const list = await xl('list');
      expect(list.status).toBe(0);
      const lines = list.stdout.trim().split('\n');
      expect(lines[0]).toMatch(/^Name\s+ID\s+Mem\s+VCPUs\tState\tTime\(s\)$/);
      expect(lines.slice(1).map((l) => l.split(/\s+/).slice(0, 5))).toEqual([
        ['alpha', '1', '4', '1', 'r-----'], ['beta', '2', '4', '1', 'r-----'], ['hello', '3', '4', '1', '---s--'],
      ]);

      const gamma = file('gamma.json', { name: 'gamma', strategy: 'hw:vmx', memory: 8, cap: 25, boot: { compute: true } });
      expect((await xl('create', gamma)).stdout).toBe("created domain 4 'gamma'\n");
      await until('gamma\'s banner', () => printed(hv.stdout(), 'gamma').includes('compute: xorshift rounds'));
      expect((await xl('vcpu-pin', 'alpha', '0', '1')).status).toBe(0);
      const vcpus = (await xl('vcpu-list')).stdout;
      expect(vcpus).toMatch(/^alpha\s+1\s+0\s+\S+\s+\S+\s+[\d.]+ 1$/m);
      const sched = await xl('sched-credit2', '-d', 'beta', '-w', '1024', '-c', '50');
      expect(sched.stdout).toMatch(/^beta\s+2\s+1024\s+50$/m);
      expect((await xl('sched-credit2')).stdout).toMatch(/^gamma\s+4\s+256\s+25$/m);

      // xl info: the platform, and the pool's free MiB before and after gamma's 8 MiB come back.
      const info = async () => Object.fromEntries((await xl('info')).stdout.trim().split('\n').map((l) => l.split(/\s*: /, 2)));
      const before = await info();
      expect(before).toMatchObject({ nr_cpus: '2', total_memory: '64', nr_domains: '4', xen_scheduler: 'credit2', sched_ratelimit_us: '1000' });
      expect(Number(before.largest_free_run)).toBeLessThanOrEqual(Number(before.free_memory));
      expect((await xl('destroy', 'gamma')).status).toBe(0);
      await hv.waitFor("(type1) domain 4 'gamma' destroyed: 2048 frames back in the pool");
      const after = await info();
      expect([Number(after.free_memory) - Number(before.free_memory), after.nr_domains]).toEqual([8, '3']);
      expect((await xl('info', 'x')).stderr).toMatch(/usage/);
      const bad = await xl('destroy', 'gamma');
      expect([bad.status, bad.stderr]).toEqual([1, "ringvisor: no domain 'gamma'\n"]);
      const refused = await xl('create', file('none.json', { name: 'n', strategy: 'none', memory: 4, boot: { compute: true } }));
      expect(refused.status).toBe(1);
      expect(refused.stderr).toMatch(/strategy: 'none' is refused: a type-1 hypervisor virtualizes/);

      // xl shutdown presses the ACPI power button: -w answers once the guest has powered off and
      // on_poweroff was carried out; a guest that ignores the button (the compute guest) runs on.
      const button = file('button.json', { name: 'button', strategy: 'hw:vmx', memory: 4, boot: { flat: buttonGuest, address: 0x100000 }, on_poweroff: 'preserve' });
      expect((await xl('create', button)).stdout).toBe("created domain 5 'button'\n");
      await hv.waitFor('[button] acpi-button: PWRBTN_EN set');
      const waited = await xl('shutdown', '-w', '-F', 'button');
      expect([waited.status, waited.stdout]).toEqual([0, "domain 5 'button' has shut down: power-off; preserved\n"]);
      expect((await xl('list')).stdout).toMatch(/^button\s+5\s+4\s+1\t---s--\t/m);
      const pressed = await xl('shutdown', 'beta');
      expect([pressed.status, pressed.stdout]).toEqual([0, "shutting down domain 2 'beta' (ACPI power button pressed)\n"]);
      expect((await xl('list')).stdout).toMatch(/^beta\s+2\s+4\s+1\t[rb-]-----\t/m);
      expect((await xl('shutdown', '-w')).stderr).toMatch(/usage: ringvisor xl shutdown \[-w\] \[-F\] DOM/);
      // A para domain is asked through xenstore: minikernel-pv watches control/shutdown. xl reboot:
      // it asks for a reboot and on_reboot (restart) rebuilds it under a new ID; xl shutdown: it
      // powers off and on_poweroff=preserve keeps it listed. It has two vCPUs, of which its kernel
      // brings up only the first: the second is listed, blocked, and has run nowhere.
      const pv = file('pv.json', { name: 'pv', strategy: 'para', memory: 32, vcpus: 2, boot: { guest: 'minikernel-pv' }, on_poweroff: 'preserve' });
      expect((await xl('create', pv)).stdout).toBe("created domain 6 'pv'\n");
      await hv.waitFor('[pv] minikernel shell: type help', 120_000);
      const pvVcpus = (await xl('vcpu-list', 'pv')).stdout;
      expect(pvVcpus).toMatch(/^pv\s+6\s+0\s+\d+\s+\S+\s+[\d.]+ /m);
      expect(pvVcpus).toMatch(/^pv\s+6\s+1\s+-\s+b\s+0\.0 /m);
      expect(pvVcpus).not.toMatch(/^alpha/m);
      expect((await xl('vcpu-list', 'nosuch')).stderr).toBe("ringvisor: no domain 'nosuch'\n");
      const rebooted = await xl('reboot', '-w', 'pv');
      expect([rebooted.status, rebooted.stdout]).toEqual([0, "domain 6 'pv' has shut down: reset; restarted as domain 7\n"]);
      expect(hv.stdout()).toMatch(/^\[pv\] (\$ )?minikernel: reboot requested by the toolstack\r?$/m);
      await hv.waitFor("(type1) domain 7 'pv' created: para");
      await until('the second pv shell', () => printed(hv.stdout(), 'pv').split('minikernel shell: type help').length - 1 === 2, 120_000);
      expect((await xl('list')).stdout).toMatch(/^pv\s+7\s+32\s+2\t[rb-]{2}----\t/m);
      // The new domain answers at its console (Ctrl-A 7 types into domain 7).
      hv.type('\x017ps\n');
      await hv.waitFor('[pv]   PID  PPID  STATE     NAME');
      const hvmReboot = await xl('reboot', 'alpha');
      expect([hvmReboot.status, hvmReboot.stderr]).toEqual([1, "ringvisor: domain 'alpha' (hw:vmx) has no PV control interface: a graceful reboot is not possible (-F resets it; the guest is not asked)\n"]);
      expect((await xl('reboot', '-w', '-w', 'alpha')).stderr).toMatch(/usage: ringvisor xl reboot \[-w\] \[-F\] DOM/);
      const asked = await xl('shutdown', 'pv');
      expect([asked.status, asked.stdout]).toEqual([0, "shutting down domain 7 'pv' (xenstore control/shutdown = poweroff)\n"]);
      await hv.waitFor("(type1) domain 7 'pv' shut down: power-off", 120_000);
      // The request may come after the shell printed its prompt ("$ ") on that line.
      expect(hv.stdout()).toMatch(/^\[pv\] (\$ )?minikernel: shutdown requested by the toolstack\r?$/m);
      expect((await xl('list')).stdout).toMatch(/^pv\s+7\s+32\s+2\t---s--\t/m);
      // -F resets an HVM domain (the guest is not asked); on_reboot rebuilds it.
      const reset = await xl('reboot', '-F', '-w', 'beta');
      expect([reset.status, reset.stdout]).toEqual([0, "domain 2 'beta' has shut down: reset by the toolstack; restarted as domain 8\n"]);
      expect((await xl('list')).stdout).toMatch(/^beta\s+8\s+4\s+1\t[rb-]-----\t/m);

      const console = ringvisor(['xl', '-s', socket, 'console', 'hello']);
      await console.waitFor('Hello from protected mode!');
      console.child.kill();
      expect((await xl('list')).stdout).not.toMatch(/gamma/);
    } finally {
      hv.child.kill('SIGTERM');
    }
    expect(await hv.exit).toBe(0);
    expect(hv.stdout()).toContain('(type1) stopped');
  });

  it('shuts down and reboots every domain with -a, as xl does', async () => {
    const allSocket = join(dir, 'all.sock');
    const xlAll = (...args: string[]) => ringvisorDone(['xl', '-s', allSocket, ...args]);
    const flat = { flat: buttonGuest, address: 0x100000 };
    const platform = file('all.json', {
      pcpus: 2, memory: 64, control: allSocket,
      domains: [
        { name: 'b1', strategy: 'hw:vmx', memory: 4, boot: flat, on_poweroff: 'preserve' },
        { name: 'b2', strategy: 'full', memory: 4, boot: flat },
        { name: 'c', strategy: 'hw:vmx', memory: 4, boot: { compute: true }, on_reboot: 'destroy' },
      ],
    });
    const hv = ringvisor(['type1', platform]);
    const armed = (name: string) => printed(hv.stdout(), name).split('acpi-button: PWRBTN_EN set').length - 1;
    try {
      await hv.waitFor('xl control socket');
      await until('both buttons enabled', () => armed('b1') === 1 && armed('b2') === 1);
      // Without -F the first domain (ID order) has no PV control interface: the command ends there.
      const refused = await xlAll('reboot', '-a');
      expect([refused.status, refused.stdout, refused.stderr]).toEqual([1, '',
        "ringvisor: domain 'b1' (hw:vmx) has no PV control interface: a graceful reboot is not possible (-F resets it; the guest is not asked)\n" +
        "ringvisor: not asked: domain 2 'b2', domain 3 'c'\n"]);
      // -F resets each; -w answers once each one's on_reboot was done.
      const reset = await xlAll('reboot', '-a', '-F', '-w');
      expect([reset.status, reset.stdout]).toEqual([0,
        "domain 1 'b1' has shut down: reset by the toolstack; restarted as domain 4\n" +
        "domain 2 'b2' has shut down: reset by the toolstack; restarted as domain 5\n" +
        "domain 3 'c' has shut down: reset by the toolstack; destroyed\n"]);
      await until('both buttons enabled again', () => armed('b1') === 2 && armed('b2') === 2);
      // Both obey the power button; on_poweroff preserves b1 and destroys b2.
      const off = await xlAll('shutdown', '-a', '-w');
      expect([off.status, off.stdout]).toEqual([0,
        "domain 4 'b1' has shut down: power-off; preserved\ndomain 5 'b2' has shut down: power-off; destroyed\n"]);
      expect((await xlAll('list')).stdout.trim().split('\n').slice(1).map((l) => l.split(/\s+/).slice(0, 5))).toEqual([['b1', '4', '4', '1', '---s--']]);
      // Nothing left running: nothing to ask.
      expect(await xlAll('shutdown', '-a')).toMatchObject({ status: 0, stdout: '' });
      for (const args of [['shutdown', '-a', 'b1'], ['reboot', '-a', '-a'], ['reboot']]) {
        expect((await xlAll(...args)).stderr).toMatch(/usage: ringvisor xl (shutdown|reboot) \[-w\] \[-F\] DOM, or ringvisor xl (shutdown|reboot) -a \[-w\] \[-F\]/);
      }
    } finally {
      hv.child.kill('SIGTERM');
    }
    expect(await hv.exit).toBe(0);
  });

  it('names every bad field of a platform file and refuses to boot', async () => {
    const bad = await ringvisorDone(['type1', file('bad.json', { pcpus: 0, memory: 64, domains: [{ name: 'x', strategy: 'none', memory: 4, boot: { compute: true } }] })]);
    expect(bad.status).toBe(1);
    expect(bad.stderr).toBe(`ringvisor: ${join(dir, 'bad.json')}: pcpus: must be an integer from 1 to 64 (got 0)\n` +
      `ringvisor: ${join(dir, 'bad.json')}: domains[0].strategy: 'none' is refused: a type-1 hypervisor virtualizes (use full, para, hw:vmx)\n`);
    const missing = await xl('list');
    expect(missing.status).toBe(1);
    expect(missing.stderr).toMatch(/no hypervisor listens on/);
  });
});
