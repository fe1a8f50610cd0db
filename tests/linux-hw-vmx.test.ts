// Debian's i686 kernel boots under the hardware-assisted strategy on emulated VT-x
// (`--vmm hw:vmx`: VMX non-root operation, EPT, a KVM-like VMM handling the exits) to a shell, with
// the very checks tests/linux.test.ts makes on the bare emulated CPU (linux-boot.ts): commands,
// virtio-blk and virtio-rng through MMIO emulated on EPT violations, date and clock across idle
// time, the TSC clocksource, poweroff; and the uncompressed vmlinux to a shell. Skips, saying why,
// only where apt cannot provide the kernel.
import { describe, it } from 'vitest';
import { bootAndCheckShell, bootVmlinuxToShell, skipReason, vmlinuxSkipReason } from './linux-boot.js';

const VMM = ['--vmm', 'hw:vmx'];

describe.skipIf(!!skipReason)('Linux under hw:vmx', () => {
  it('boots to a shell that runs commands, uses virtio-blk and virtio-rng, keeps the date and time, and powers off', async () => {
    await bootAndCheckShell(VMM);
  }, 1_800_000);

  it.skipIf(!!vmlinuxSkipReason)('boots the same kernel as an uncompressed vmlinux to a shell, and powers off', async () => {
    await bootVmlinuxToShell(VMM);
  }, 900_000);
});
