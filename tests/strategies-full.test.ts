// Software full virtualization must be invisible: every bundled guest prints exactly what it prints
// on the bare emulated CPU (`sensitive` and `escape` exist to make that a hard test), driven through
// the CLI as a user would. Skips, saying so, only while the CLI does not register `full`.
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const cli = resolve(import.meta.dirname, '..', 'apps', 'cli', 'dist', 'main.js');

function ringvisor(args: string[]): { stdout: string; stderr: string; status: number | null } {
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', input: '', timeout: 120_000 });
  return { stdout: r.stdout, stderr: r.stderr, status: r.status };
}

const vmms = ringvisor(['vmms']).stdout;
const fullRegistered = vmms.split('\n').some((line) => line.startsWith('full '));
if (!fullRegistered) console.warn('skipping none-versus-full comparison: ringvisor vmms does not list full');

/** The bundled guests, from `ringvisor guests` (first word of each line). */
const bundledGuests = ringvisor(['guests']).stdout.split('\n').map((line) => line.split(' ')[0]).filter(Boolean);
/**
 * Guests that run until a command typed on their console: their output after the prompt depends on
 * when the keys arrive (wall time), so they are compared up to the prompt and stopped by --max-time.
 */
const INTERACTIVE: Record<string, string> = {
  demo: 'Live counter, press a key for the shell',
  minikernel: 'minikernel shell: type help',
};
/** Guests built for Xen's PV ABI: they boot only under a para-virtualizing strategy. */
const PV_ONLY = ['minikernel-pv'];
/** A fixed RTC start, so guests that read the clock (irq-test) print the same on every run. */
const RTC = ['--rtc', '2026-01-01'];

describe.skipIf(!fullRegistered)('one guest, none and full', () => {
  it('lists the guests it compares', () => {
    expect(bundledGuests).toEqual(expect.arrayContaining(['hello', 'sensitive', 'escape', 'demo']));
  });

  it.each(bundledGuests.filter((guest) => !(guest in INTERACTIVE) && !PV_ONLY.includes(guest)))('%s prints byte for byte the same and exits the same under none and full', (guest) => {
    const none = ringvisor(['run', guest, '--vmm', 'none', ...RTC]);
    const full = ringvisor(['run', guest, '--vmm', 'full', ...RTC]);
    expect(none.status).toBe(0);
    expect(none.stdout.length).toBeGreaterThan(0);
    expect(full.status).toBe(none.status);
    expect(full.stdout).toBe(none.stdout);
  });

  it.each(Object.entries(INTERACTIVE))('%s prints the same up to its prompt under none and full', (guest, prompt) => {
    const none = ringvisor(['run', guest, '--vmm', 'none', ...RTC, '--max-time', '5']);
    const full = ringvisor(['run', guest, '--vmm', 'full', ...RTC, '--max-time', '5']);
    const upToPrompt = (stdout: string) => stdout.slice(0, stdout.indexOf(prompt) + prompt.length);
    expect(none.stdout).toContain(prompt);
    expect(full.stdout).toContain(prompt);
    expect(upToPrompt(full.stdout)).toBe(upToPrompt(none.stdout));
    expect([none.status, full.status]).toEqual([124, 124]);
  });
});
