// `harness profile linux`: boots the bench-linux guest in this process on the emulated CPU with a
// sampling profiler. Every --period instructions retired the guest's EIP is recorded; after the
// boot the kernel's own kallsyms tables (read from guest RAM, so KASLR's relocation is already
// applied) name the functions. Prints the top functions by share of instructions, and the boot as
// guest-time intervals between console lines (printk.time=1 puts the kernel's timestamps in them).
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { RunLoop, virtualLoopClock } from '@ringvisor/hypervisor-type2';
import { VirtualClock } from '@ringvisor/machine';
import { BOOT_OPTIONS } from './bench-linux.js';
import { linuxInProcess } from './linux-in-process.js';
import { callers, callerTable, inclusiveTable, placeOf, timeline, topTable, type ConsoleLine } from './profile/report.js';
import { SamplingVcpu, type Sample } from './profile/sampler.js';
import { parseSystemMap, readKallsyms, SymbolTable } from './profile/symbols.js';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const MARKER = 'RINGVISOR-INIT-OK';
const MiB = 1024 * 1024;
const STACK_DEPTH = 24;
const USAGE = `Usage: harness profile linux [--period N] [--top N] [--append CMDLINE] [--max-instructions N] [--console]
                             [--callers FUNCTION]...

Boots tools/linux-guest.mjs's kernel + initramfs on x86-core to "${MARKER}" (by default with
bench linux's options and printk.time=1, without quiet), sampling EIP every
N instructions (default 10000); prints the top functions (themselves, and with their callees from
a frame-pointer stack walk) and the boot timeline in guest time. --console echoes the guest's
console lines to stderr, each prefixed with the guest time it was printed at; --callers prints the
commonest call chains of a function.
`;

interface Guest { bzImage: string; initrd: string; systemMap?: string }

function option(args: readonly string[], name: string): string | undefined {
  const at = args.indexOf(name);
  return at >= 0 ? args[at + 1] : undefined;
}

export async function profileLinux(args: readonly string[]): Promise<number> {
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(USAGE);
    return 0;
  }
  const period = Number(option(args, '--period') ?? 10_000);
  const top = Number(option(args, '--top') ?? 30);
  const maxInstructions = Number(option(args, '--max-instructions') ?? 20e9);
  const append = option(args, '--append') ?? `console=ttyS0 printk.time=1 rv.poweroff ${BOOT_OPTIONS}`;
  const echo = args.includes('--console');
  const callersOf = args.flatMap((a, i) => (args[i - 1] === '--callers' ? [a] : []));
  if (!(period >= 100) || !(top >= 1) || !(maxInstructions > 0)) {
    process.stderr.write(USAGE);
    return 2;
  }
  const guest = JSON.parse(execFileSync(process.execPath, [join(repo, 'tools', 'linux-guest.mjs'), '--quiet'], { encoding: 'utf8' })) as Guest;

  const clock = new VirtualClock();
  const lines: ConsoleLine[] = [];
  const samples: Sample[] = [];
  let partial = '';
  let done = false;
  const serial = {
    write: (bytes: Uint8Array): number => {
      partial += Buffer.from(bytes).toString('latin1');
      for (let nl = partial.indexOf('\n'); nl >= 0; nl = partial.indexOf('\n')) {
        const text = partial.slice(0, nl).replace(/\r$/, '');
        lines.push({ text, guestNs: clock.now(), sampleIndex: samples.length });
        if (echo) process.stderr.write(`${(clock.now() / 1e9).toFixed(3).padStart(8)} | ${text}\n`);
        if (text.includes(MARKER)) done = true;
        partial = partial.slice(nl + 1);
      }
      return bytes.length;
    },
  };
  const { board, vm, vcpu: inner } = linuxInProcess(clock, readFileSync(guest.bzImage), readFileSync(guest.initrd), append, serial);
  // Kernel stacks live in lowmem, mapped at KERNEL_BASE + physical address.
  const stacks: number[][] = [];
  const memory = vm.memory;
  const read32 = (phys: number) => memory.read32(phys);
  const vcpu = new SamplingVcpu(inner, period, (s) => {
    samples.push(s);
    stacks.push(s.paging && !s.user ? callers(s.ebp, read32, memory.ramEnd, STACK_DEPTH) : []);
  });
  const loop = new RunLoop({
    vcpu, clock: virtualLoopClock(clock, { paced: false }), interrupts: board.vmSpec().interrupts,
    pendingEnd: () => (board.shutdownRequest ? { reason: 'reset' } : null),
  });

  const wallStart = performance.now();
  let end = 'marker';
  while (!done) {
    const step = loop.step();
    if (step.kind === 'end') { end = step.end.reason; break; }
    if (step.kind === 'wait') { end = 'halted with nothing to wake it'; break; }
    if (inner.retired > maxInstructions) { end = `--max-instructions ${maxInstructions}`; break; }
  }
  const wallSeconds = (performance.now() - wallStart) / 1000;

  const symbols = kernelSymbols(vm.memory, guest);
  const names = samples.map((s) => placeOf(s, symbols));
  const stackNames = names.map((leaf, i) => [leaf, ...stacks[i].map((r) => symbols.lookup(r) ?? '?')]);
  const nsPerSample = period * clock.nsPerInstruction;
  const out = process.stdout;
  out.write(`boot ended: ${end}; ${(inner.retired / 1e9).toFixed(3)} G instructions, guest time ${(clock.now() / 1e9).toFixed(2)} s, ` +
    `${wallSeconds.toFixed(1)} s wall; ${samples.length} samples (1 per ${period} instructions); ${symbols.size} kernel symbols\n\n`);
  out.write(`Top functions by share of instructions retired:\n${topTable(names, nsPerSample, top)}\n\n`);
  out.write(`Functions by share of samples with them on the stack (frame-pointer walk):\n${inclusiveTable(stackNames, nsPerSample, top)}\n\n`);
  for (const leaf of callersOf) out.write(`Call chains of ${leaf}:\n${callerTable(stackNames, leaf, 6, 8)}\n\n`);
  out.write(`Timeline (guest time; intervals between console lines holding >= 1% of the samples):\n`);
  out.write(`${timeline(names, lines, clock.now(), 0.01)}\n`);
  vm.destroy();
  return end === 'marker' ? 0 : 1;
}

/**
 * The kallsyms tables in guest RAM (KASLR's relocation already applied to them), else a real
 * System.map when the fetch tool found one (Debian ships a placeholder; without KASLR only).
 */
function kernelSymbols(memory: { ramEnd: number; readBytes(address: number, into: Uint8Array): boolean }, guest: Guest): SymbolTable {
  const high = new Uint8Array(memory.ramEnd - MiB);
  const fromRam = memory.readBytes(MiB, high) ? readKallsyms(high) : null;
  if (fromRam) return new SymbolTable(fromRam);
  return new SymbolTable(guest.systemMap && existsSync(guest.systemMap) ? parseSystemMap(readFileSync(guest.systemMap, 'latin1')) : []);
}
