// `harness bench xz`: the CPU seconds x86-core takes for a fixed piece of Debian's i686 boot, in this
// process: the bzImage's xz decompressor (from the kernel's entry until it enables paging: the hot
// loops), or with --vmlinux the uncompressed kernel's first --instructions N (lukewarm kernel code);
// with --arch amd64 the same on Debian's amd64 kernel and the x86-64 model (the 64-bit tier), where
// the bzImage's run is its first --instructions N (default 1 G: its decompressor, whose end the
// paging mode does not mark, as the kernel is entered in long mode).
// CPU time, not wall time: on a shared machine it moves far less with the load. To compare two
// builds, run one from each worktree at the same time and compare the pairs.
import { readFileSync } from 'node:fs';
import { RunLoop, virtualLoopClock } from '@ringvisor/hypervisor-type2';
import { VirtualClock } from '@ringvisor/machine';
import { APPEND, fetchGuest } from './bench-linux.js';
import { linuxInProcess } from './linux-in-process.js';

const USAGE = 'Usage: harness bench xz [--vmlinux] [--arch amd64] [--instructions N]\n';
const CR0_PG = 0x80000000;

export async function benchXz(args: readonly string[]): Promise<number> {
  let vmlinux = false;
  let amd64 = false;
  let limit = NaN;
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--vmlinux') vmlinux = true;
    else if (args[i] === '--arch' && args[i + 1] === 'amd64') {
      amd64 = true;
      i++;
    } else if (args[i] === '--instructions' && Number(args[i + 1]) > 0) limit = Number(args[++i]);
    else {
      process.stderr.write(USAGE);
      return 2;
    }
  }
  if (Number.isNaN(limit)) limit = vmlinux ? 450e6 : amd64 ? 1e9 : Infinity;
  const guest = fetchGuest(amd64 ? 'amd64' : 'i386');
  if (vmlinux && guest.vmlinux === undefined) {
    process.stderr.write('harness bench xz: no vmlinux (tools/linux-guest.mjs needs xz to make it)\n');
    return 1;
  }
  const kernel = readFileSync(vmlinux ? (guest.vmlinux as string) : guest.bzImage);
  const clock = new VirtualClock();
  const { board, vcpu } = linuxInProcess(clock, kernel, readFileSync(guest.initrd), APPEND, { write: (b) => b.length }, amd64);
  const loop = new RunLoop({
    vcpu, clock: virtualLoopClock(clock, { paced: false }), interrupts: board.vmSpec().interrupts,
    pendingEnd: () => (board.shutdownRequest ? { reason: 'reset' } : null),
  });
  const cpuStart = process.cpuUsage();
  const wallStart = performance.now();
  while (vcpu.retired < limit && (vmlinux || amd64 || (vcpu.getSpecialRegisters().cr0 & CR0_PG) === 0)) {
    const step = loop.step();
    if (step.kind === 'end' || step.kind === 'wait') {
      process.stderr.write(`harness bench xz: the guest stopped (${step.kind}) after ${vcpu.retired} instructions\n`);
      return 1;
    }
  }
  const used = process.cpuUsage(cpuStart);
  const cpuSeconds = (used.user + used.system) / 1e6;
  const what = `${amd64 ? 'amd64 ' : ''}${vmlinux ? 'vmlinux kernel' : 'bzImage decompressor'}`;
  process.stdout.write(`${what}: ${(vcpu.retired / 1e9).toFixed(3)} G instructions, ` +
    `${((performance.now() - wallStart) / 1000).toFixed(2)} s wall\n`);
  process.stdout.write(`x86-core ${what}: ${cpuSeconds.toFixed(2)} s CPU\n`);
  return 0;
}
