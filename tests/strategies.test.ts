// The same guest under `--vmm none` (emulated CPU) and `--vmm hw` (KVM) must print the same console
// output, end with the same status and make the same port I/O, driven through the CLI as a user
// would. Where KVM cannot be used here, the hw half skips and says why.
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const cli = resolve(import.meta.dirname, '..', 'apps', 'cli', 'dist', 'main.js');

function ringvisor(args: string[]): { stdout: string; stderr: string; status: number | null } {
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', input: '', timeout: 60_000 });
  return { stdout: r.stdout, stderr: r.stderr, status: r.status };
}

const vmms = ringvisor(['vmms']).stdout;
const hwLine = vmms.split('\n').find((line) => line.startsWith('hw ')) ?? '';
const hwUnavailable = hwLine.includes('available') && !/\bunavailable\b/.test(hwLine) ? '' : hwLine.trim() || 'ringvisor vmms did not list hw';
if (hwUnavailable) console.warn(`skipping none-versus-hw comparison: ${hwUnavailable}`);

/** The exit reasons of the `exits:` line of --stats, without their counts. */
const reasonsOf = (stderr: string): string[] => {
  const line = stderr.split('\n').find((l) => l.startsWith('exits:')) ?? '';
  return [...line.matchAll(/([a-z-]+) \d+/g)].map((m) => m[1]).sort();
};

/** The `ports:` line of --stats: every port the guest touched, with its count. */
const portsLine = (stderr: string): string | undefined => stderr.split('\n').find((line) => line.startsWith('ports:'));

describe.skipIf(!!hwUnavailable)('one guest, two strategies', () => {
  // The bundled guests this nested KVM can run (paging and protected-mode IRET are beyond it).
  it.each(['hello-real', 'hello'])('%s prints, exits and does port I/O identically under none and hw', (guest) => {
    const none = ringvisor(['run', guest, '--vmm', 'none', '--stats']);
    const hw = ringvisor(['run', guest, '--vmm', 'hw', '--stats']);
    expect(none.status).toBe(0);
    expect(hw.status).toBe(none.status);
    expect(hw.stdout).toBe(none.stdout);
    expect(none.stdout.length).toBeGreaterThan(0);
    expect(portsLine(hw.stderr)).toBe(portsLine(none.stderr));
    expect(portsLine(none.stderr)).toMatch(/0x3f8 \d+/);
    // Exit reasons agree in kind: a reason counted under one strategy is counted under the other.
    expect(reasonsOf(hw.stderr)).toEqual(reasonsOf(none.stderr));
  });
});
