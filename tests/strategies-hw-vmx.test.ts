// The hardware-assisted strategy on VT-x emulated by x86-core (`--vmm hw:vmx`) must be invisible to
// the guest: every bundled guest prints byte for byte what it prints on the bare emulated CPU
// (`--vmm none`), ends with the same status and makes the same port I/O, driven through the CLI as
// a user would. Under the virtual clock both count the same instructions, so even microbench's TSC
// figures agree and nothing is left out. `--vmm hw:kvm` joins where /dev/kvm can be opened.
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const cli = resolve(import.meta.dirname, '..', 'apps', 'cli', 'dist', 'main.js');

function ringvisor(args: string[]): { stdout: string; stderr: string; status: number | null } {
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', input: '', timeout: 300_000 });
  return { stdout: r.stdout, stderr: r.stderr, status: r.status };
}

const vmms = ringvisor(['vmms']).stdout.split('\n');
const vmxLine = vmms.find((line) => line.startsWith('hw:vmx ')) ?? '';
const kvmLine = vmms.find((line) => line.startsWith('hw:kvm ')) ?? '';
const kvmAvailable = kvmLine !== '' && !/\bunavailable\b/.test(kvmLine);
if (!kvmAvailable) console.warn(`skipping hw:kvm in the none-versus-hw comparison: ${kvmLine.trim() || 'ringvisor vmms did not list hw:kvm'}`);

const bundledGuests = ringvisor(['guests']).stdout.split('\n').map((line) => line.split(' ')[0]).filter(Boolean);
/** Guests that wait for keys after a prompt: compared up to it, then stopped by --max-time. */
const INTERACTIVE: Record<string, string> = {
  demo: 'Live counter, press a key for the shell',
  minikernel: 'minikernel shell: type help',
};
/** Guests built for Xen's PV ABI: they boot only under a para-virtualizing strategy, not under none or hw. */
const PV_ONLY = ['minikernel-pv'];
const RTC = ['--rtc', '2026-01-01'];
const portsLine = (stderr: string): string | undefined => stderr.split('\n').find((line) => line.startsWith('ports:'));

describe('one guest, none and hw:vmx', () => {
  it('ringvisor vmms lists hw:vmx as available everywhere, and plain hw as KVM', () => {
    expect(vmxLine).toMatch(/^hw:vmx\s+available\b/);
    const hwLine = vmms.find((line) => line.startsWith('hw ')) ?? '';
    expect(hwLine).toMatch(/KVM/);
    if (!kvmAvailable) expect(hwLine).toMatch(/unavailable.*hw:vmx/);
  });

  it('lists the guests it compares', () => {
    expect(bundledGuests).toEqual(expect.arrayContaining(['hello', 'sensitive', 'escape', 'demo', 'microbench']));
  });

  it.each(bundledGuests.filter((guest) => !(guest in INTERACTIVE) && !PV_ONLY.includes(guest)))('%s prints, exits and does port I/O the same under none and hw:vmx', (guest) => {
    const none = ringvisor(['run', guest, '--vmm', 'none', '--stats', ...RTC]);
    const vmx = ringvisor(['run', guest, '--vmm', 'hw:vmx', '--stats', ...RTC]);
    expect(none.status).toBe(0);
    expect(none.stdout.length).toBeGreaterThan(0);
    expect(vmx.stdout).toBe(none.stdout);
    expect(vmx.status).toBe(none.status);
    expect(portsLine(vmx.stderr)).toBe(portsLine(none.stderr));
    // The VMM's own counters name the SDM's exit reasons.
    expect(vmx.stderr).toMatch(/^vmx exits: .*30 I\/O instruction \d+/m);
  }, 600_000);

  it.each(Object.entries(INTERACTIVE))('%s prints the same up to its prompt under none and hw:vmx', (guest, prompt) => {
    const none = ringvisor(['run', guest, '--vmm', 'none', ...RTC, '--max-time', '20']);
    const vmx = ringvisor(['run', guest, '--vmm', 'hw:vmx', ...RTC, '--max-time', '20']);
    const upToPrompt = (stdout: string) => stdout.slice(0, stdout.indexOf(prompt) + prompt.length);
    expect(none.stdout).toContain(prompt);
    expect(vmx.stdout).toContain(prompt);
    expect(upToPrompt(vmx.stdout)).toBe(upToPrompt(none.stdout));
    expect([none.status, vmx.status]).toEqual([124, 124]);
  }, 600_000);

  it.skipIf(!kvmAvailable).each(['hello-real', 'hello'])('%s prints the same under hw:kvm', (guest) => {
    const none = ringvisor(['run', guest, '--vmm', 'none']);
    const kvm = ringvisor(['run', guest, '--vmm', 'hw:kvm']);
    expect(kvm.stdout).toBe(none.stdout);
    expect(kvm.status).toBe(none.status);
  });

  it('plain --vmm hw without /dev/kvm says so and names hw:vmx, never falling back', () => {
    if (kvmAvailable) return;
    const hw = ringvisor(['run', 'hello', '--vmm', 'hw']);
    expect(hw.status).not.toBe(0);
    expect(hw.stderr).toMatch(/hw:vmx/);
    expect(hw.stdout).toBe('');
  });
});
