// `harness bench boot`: how long from this process's start until the bundled demo prints its banner
// on the serial console (the user's wait after typing `ringvisor run`), and how fast the guest then
// computes: the demo's own `bench` command runs a compute loop, and MIPS is instructions retired
// over the VM's running wall time. Strategy `none` (the emulated CPU) on the virtual clock, unpaced.
import { GUESTS, readGuestImage } from '@ringvisor/guests';
import { HostedVm, mipsOf, type StrategyEntry } from '@ringvisor/hypervisor-type2';

const MiB = 1024 * 1024;
const TIMEOUT_MS = 120_000;

export async function benchBoot(args: readonly string[]): Promise<number> {
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write('Usage: harness bench boot\n\nBoots the demo on the emulated CPU (strategy none); prints the time from process start to\n' +
      "its banner and the guest's MIPS over its compute benchmark; last line: boot: N ms to banner, M MIPS\n");
    return 0;
  }
  if (args.length > 0) {
    process.stderr.write(`harness: bench boot takes no arguments (got '${args[0]}')\n`);
    return 2;
  }
  const strategy: StrategyEntry = { name: 'none', module: import.meta.resolve('@ringvisor/x86-core'), exportName: 'noneStrategy' };
  let output = '';
  let wake = () => {};
  const vm = await HostedVm.start({
    strategy,
    machine: { memory: 32 * MiB, boot: { kind: 'multiboot', image: readGuestImage('demo') } },
    unpaced: true,
    maxTimeSeconds: TIMEOUT_MS / 1000,
    serial: { kind: 'console', write: (bytes) => { output += Buffer.from(bytes).toString('latin1'); wake(); } },
  });
  const until = (text: string, from = 0) => new Promise<boolean>((resolve) => {
    const check = () => {
      if (output.indexOf(text, from) >= 0) resolve(true);
    };
    wake = check;
    void vm.done.then(() => resolve(output.indexOf(text, from) >= 0));
    check();
  });
  if (!(await until(GUESTS.demo.expectedOutput))) return fail(vm, output, 'the demo never printed its banner');
  const bannerMs = performance.now();
  await until('press a key');
  vm.sendSerial(Buffer.from('\r')); // Enter leaves the live counter without starting a command
  await until('> ');
  const mark = output.length;
  vm.sendSerial(Buffer.from('bench\r'));
  if (!(await until(' iterations per tick', mark))) return fail(vm, output, 'the demo never finished its bench command');
  const stats = await vm.stats();
  vm.sendSerial(Buffer.from('poweroff\r'));
  await vm.done;
  const benchLine = output.slice(mark).split('\n').find((line) => line.startsWith('bench: '));
  process.stdout.write(`banner after ${bannerMs.toFixed(0)} ms from process start\n`);
  process.stdout.write(`guest ${benchLine?.trim() ?? 'bench: ?'}\n`);
  process.stdout.write(`instructions: ${stats.instructions} in ${(stats.runMs / 1000).toFixed(3)} s of running\n`);
  process.stdout.write(`boot: ${bannerMs.toFixed(0)} ms to banner, ${mipsOf(stats).toFixed(1)} MIPS\n`);
  return 0;
}

async function fail(vm: HostedVm, output: string, why: string): Promise<number> {
  vm.stop();
  const report = await vm.done;
  process.stderr.write(`harness: bench boot: ${why} (${report.end.reason}); serial output: ${JSON.stringify(output.slice(-200))}\n`);
  return 1;
}
