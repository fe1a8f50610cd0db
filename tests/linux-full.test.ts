// Debian's i686 kernel under software full virtualization (`--vmm full`): the same image, initramfs
// and command line as under `none`, the same checks (tests/linux-boot.ts): shell, virtio-blk to the
// host file, /dev/hwrng, date, the clock across idle time with the TSC still the clocksource, and
// `poweroff` ending the VM with status 0. Skips, saying why, only where apt cannot provide the
// kernel, or while the CLI does not register `full`.
import { spawnSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import { describe, it } from 'vitest';
import { bootAndCheckShell, bootVmlinuxToShell, skipReason, vmlinuxSkipReason } from './linux-boot.js';

const cli = join(resolve(import.meta.dirname, '..'), 'apps', 'cli', 'dist', 'main.js');
const fullListed = spawnSync(process.execPath, [cli, 'vmms'], { encoding: 'utf8' }).stdout.split('\n').some((line) => /^full\s+available\b/.test(line));
const skip = skipReason || (fullListed ? '' : 'ringvisor vmms does not list full as available');
if (skip && !skipReason) console.warn(`skipping the Linux boot under full: ${skip}`);
const FULL = ['--vmm', 'full'];

describe.skipIf(!!skip)('Linux under software full virtualization', () => {
  it('boots to a shell that runs commands, uses virtio-blk and virtio-rng, keeps the date and time, and powers off', async () => {
    await bootAndCheckShell(FULL);
  }, 1_800_000);

  it.skipIf(!!vmlinuxSkipReason)('boots the same kernel as an uncompressed vmlinux to a shell, and powers off', async () => {
    await bootVmlinuxToShell(FULL);
  }, 1_200_000);
});
