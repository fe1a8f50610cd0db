// Debian's amd64 kernel (linux-image-amd64, uncompressed vmlinux) with an amd64 busybox initramfs
// (tools/linux-guest.mjs --arch amd64) boots on x86-core's x86-64 model (`--cpu x86-64`, strategy
// none) to a shell, with the checks of linux.test.ts: virtio-blk and virtio-rng from the DSDT, the
// RTC's date, the guest clock across idle time, and `poweroff` ending the VM with status 0. Skips,
// saying why, only where apt cannot provide the kernel.
import { describe, it } from 'vitest';
import { bootAndCheckShell, fetchGuest } from './linux-boot.js';

const amd64 = fetchGuest('amd64');
const skipReason = typeof amd64 === 'string' ? amd64 : '';
if (skipReason) console.warn(`skipping the amd64 Linux boot: ${skipReason}`);

describe.skipIf(!!skipReason)('Linux amd64 on the emulated x86-64 CPU', () => {
  it('boots the vmlinux to a shell that runs commands, uses virtio-blk and virtio-rng, keeps the date and time, and powers off', async () => {
    if (typeof amd64 === 'string') return;
    // The 64-bit kernel keeps more of the 128 MiB (its image alone, bss and init included, is 74 MiB).
    await bootAndCheckShell(['--cpu', 'x86-64'], { guest: amd64, kernel: amd64.vmlinux ?? amd64.bzImage, memTotal: /MemTotal:\s+[6-9]\d{4} kB/ });
  }, 1_800_000);
});
