// Debian's i686 kernel with the project's initramfs (tools/linux-guest.mjs) boots on the emulated CPU
// to a shell on the serial console, and commands typed there answer. Driven through the CLI as a
// user would, in one boot (it is long): the virtio devices the machine's ACPI tables announce
// (/dev/vda on a host file, /dev/hwrng), the RTC's date, the guest clock across idle time, and
// `poweroff` ending the VM with status 0. A second, short boot starts the same kernel uncompressed
// (the tool's vmlinux ELF, no in-guest decompressor) to a shell. Skips, saying why, only where apt
// cannot provide the kernel (or, for the vmlinux, where xz cannot unpack it).
import { describe, it } from 'vitest';
import { bootAndCheckShell, bootVmlinuxToShell, skipReason, vmlinuxSkipReason } from './linux-boot.js';

describe.skipIf(!!skipReason)('Linux on the emulated CPU', () => {
  it('boots to a shell that runs commands, uses virtio-blk and virtio-rng, keeps the date and time, and powers off', async () => {
    await bootAndCheckShell();
  }, 1_800_000);

  it.skipIf(!!vmlinuxSkipReason)('boots the same kernel as an uncompressed vmlinux to a shell, and powers off', async () => {
    await bootVmlinuxToShell();
  }, 600_000);
});
