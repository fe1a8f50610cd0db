import {
  describeEnd, formatStats, HostedVm, type BootImage, type HostedVmOptions, type MachineConfig, type RunReport,
  type SerialOption,
} from '@ringvisor/hypervisor-type2';
import { parseArgs, UsageError, type ParsedArgs } from './args.js';
import { bundledGuest, bundledGuestNames } from './bundled-guests.js';
import { attachConsole } from './console.js';
import { runHelp, RUN_OPTIONS } from './help.js';
import { bootImageFromFile, checkDiskFile, readUserFile } from './images.js';
import { chooseStrategy, CPU_MODELS } from './strategies.js';
import { parseAddress, parseChoice, parseRtcStart, parseSeconds, parseSeed, parseSize, parseVcpus } from './values.js';

const DEFAULT_MEMORY = '64M';
/** Linux talks on the serial console only when told to; COM1 is the only console here. */
const LINUX_DEFAULT_APPEND = 'console=ttyS0';
/** A Xen PV kernel's console is hvc0, the start_info console ring. */
const PV_DEFAULT_APPEND = 'console=hvc0';

function text(args: ParsedArgs, name: string): string | undefined {
  const value = args.options.get(name);
  return typeof value === 'string' ? value : undefined;
}

function parseSerial(spec: string | undefined): 'stdio' | SerialOption {
  if (spec === undefined || spec === 'stdio') return 'stdio';
  if (spec.startsWith('file:') && spec.length > 5) return { kind: 'file', path: spec.slice(5) };
  const port = /^tcp:(\d{1,5})$/.exec(spec);
  if (port && Number(port[1]) <= 65535) return { kind: 'tcp', port: Number(port[1]) };
  throw new UsageError(`bad value '${spec}' for --serial (stdio, file:PATH or tcp:PORT)`);
}

/** The boot image from IMAGE / --kernel / --bios, or the bundled demo (with its ROM for a firmware guest). */
function chooseBoot(args: ParsedArgs, vmm: string): { boot: BootImage; firmware?: Uint8Array } {
  const [image, extra] = args.positional;
  if (extra !== undefined) throw new UsageError(`unexpected argument '${extra}' (one IMAGE at most)`);
  const kernel = text(args, 'kernel');
  const initrd = text(args, 'initrd');
  const append = text(args, 'append');
  const flat = text(args, 'flat');
  const multiboot = args.options.has('multiboot');
  if (kernel !== undefined) {
    if (image !== undefined) throw new UsageError('give either IMAGE or --kernel, not both');
    if (multiboot || flat !== undefined) throw new UsageError('--kernel boots Linux; --multiboot and --flat describe IMAGE');
    if (vmm === 'para') {
      // Under para the kernel is a Xen PV guest (Debian's bzImage is one): the strategy's domain builder loads it.
      return {
        boot: {
          kind: 'xen-pv', image: readUserFile(kernel, 'kernel'), cmdline: append ?? PV_DEFAULT_APPEND,
          initrd: initrd === undefined ? undefined : readUserFile(initrd, 'initrd'),
        },
      };
    }
    return {
      boot: {
        kind: 'linux', kernel: readUserFile(kernel, 'kernel'), cmdline: append ?? LINUX_DEFAULT_APPEND,
        initrd: initrd === undefined ? undefined : readUserFile(initrd, 'initrd'),
      },
    };
  }
  if (initrd !== undefined) throw new UsageError('--initrd needs --kernel');
  if (multiboot && flat !== undefined) throw new UsageError('--multiboot and --flat exclude each other');
  if (image === undefined) {
    if (multiboot || flat !== undefined) throw new UsageError(`--${multiboot ? 'multiboot' : 'flat'} needs an IMAGE file`);
    if (args.options.has('bios')) return { boot: { kind: 'firmware' } };
    return bundledGuest('demo');
  }
  const bundled = bundledGuestNames().includes(image) && !multiboot && flat === undefined;
  if (bundled) return bundledGuest(image);
  return {
    boot: bootImageFromFile(image, { multiboot, append, flat: flat === undefined ? undefined : parseAddress(flat, 'flat') }),
  };
}

/** Turns `run`'s arguments into VM options; every mistake is a UsageError with one line. */
export async function runOptions(args: ParsedArgs): Promise<{
  options: Omit<HostedVmOptions, 'serial'>; serial: SerialOption | 'stdio'; stats: boolean;
}> {
  const memory = parseSize(text(args, 'mem') ?? DEFAULT_MEMORY, 'mem');
  const vmm = text(args, 'vmm') ?? 'none';
  // KVM's guest time is wall time whatever the clock says, so hw follows the host clock by default.
  const clock = parseChoice(text(args, 'clock') ?? (vmm === 'hw' || vmm === 'hw:kvm' ? 'host' : 'virtual'), ['virtual', 'host'] as const, 'clock');
  const maxTimeText = text(args, 'max-time');
  const maxTimeSeconds = maxTimeText === undefined ? undefined : parseSeconds(maxTimeText, 'max-time');
  const serial = parseSerial(text(args, 'serial'));
  const disk = text(args, 'disk');
  if (disk !== undefined) checkDiskFile(disk);
  const accessText = text(args, 'disk-access');
  if (accessText !== undefined && disk === undefined) throw new UsageError('--disk-access needs --disk');
  const diskReadOnly = parseChoice(accessText ?? 'rw', ['rw', 'ro'] as const, 'disk-access') === 'ro';
  const bios = text(args, 'bios');
  const rtcStart = parseRtcStart(text(args, 'rtc') ?? 'host', 'rtc');
  const seedText = text(args, 'seed');
  const entropySeed = seedText === undefined ? undefined : parseSeed(seedText, 'seed');
  const chosen = chooseBoot(args, vmm);
  const { firmware } = chosen;
  const vcpusText = text(args, 'vcpus');
  const vcpus = vcpusText === undefined ? 1 : parseVcpus(vcpusText, 'vcpus');
  if (vcpus > 1 && chosen.boot.kind !== 'xen-pv') {
    throw new UsageError('--vcpus above 1 needs a para-virtual kernel under --vmm para (the PC board has no local APICs for SMP)');
  }
  const boot: BootImage = chosen.boot.kind === 'xen-pv' && vcpus > 1 ? { ...chosen.boot, vcpus } : chosen.boot;
  if (firmware && bios !== undefined) throw new UsageError('a firmware guest is its own ROM: drop --bios');
  const machine: MachineConfig = {
    memory, boot, disk, diskReadOnly, firmware: bios === undefined ? firmware : readUserFile(bios, 'firmware'), rtcStart, entropySeed,
  };
  const cpu = parseChoice(text(args, 'cpu') ?? 'i686', Object.keys(CPU_MODELS) as (keyof typeof CPU_MODELS)[], 'cpu');
  const strategy = await chooseStrategy(vmm, CPU_MODELS[cpu], cpu, (line) => process.stderr.write(`${line}\n`));
  return { options: { strategy, machine, clock, maxTimeSeconds }, serial, stats: args.options.has('stats') };
}

const SIGNALS = { SIGINT: 2, SIGTERM: 15 } as const;

/** `ringvisor run`: boots the guest and returns the process exit status. */
export async function runCommand(argv: readonly string[]): Promise<number> {
  const args = parseArgs(argv, RUN_OPTIONS, 'ringvisor run');
  if (args.options.has('help')) {
    process.stdout.write(runHelp(bundledGuestNames()));
    return 0;
  }
  const { options, serial, stats } = await runOptions(args);
  let outputOpen = true;
  let lastByte = 0x0a;
  // Settles once stdout has taken the bytes, so a slow reader holds the guest back (flow control).
  const write = (bytes: Uint8Array) => new Promise<void>((written) => {
    if (bytes.length > 0) lastByte = bytes[bytes.length - 1];
    if (outputOpen) process.stdout.write(bytes, () => written());
    else written();
  });
  const vm = await HostedVm.start({ ...options, serial: serial === 'stdio' ? { kind: 'console', write } : serial });
  // The reader of our output went away (`ringvisor run | head`): nobody sees the guest any more.
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    outputOpen = false;
    vm.stop({ reason: 'stopped', detail: `standard output closed (${error.code ?? error.message})` });
  });
  if (vm.serialTcpPort !== null) process.stderr.write(`ringvisor: serial console on 127.0.0.1:${vm.serialTcpPort}\n`);
  // On a terminal our stderr lines share the screen with the guest's output: start them on a new line.
  const sharedScreen = process.stdout.isTTY === true && process.stderr.isTTY === true;
  const atLineStart = () => !sharedScreen || lastByte === 0x0a;
  const terminal = attachConsole(vm, { forwardInput: serial === 'stdio', atLineStart, paraVirtual: options.machine.boot.kind === 'xen-pv' });
  let signalled: keyof typeof SIGNALS | null = null;
  const onSignal = (signal: keyof typeof SIGNALS) => {
    signalled = signal;
    vm.stop({ reason: 'stopped', detail: signal });
  };
  for (const signal of Object.keys(SIGNALS) as (keyof typeof SIGNALS)[]) process.on(signal, onSignal);
  const report: RunReport = await vm.done;
  terminal.detach();
  for (const signal of Object.keys(SIGNALS) as (keyof typeof SIGNALS)[]) process.off(signal, onSignal);
  const clean = report.status === 0;
  if (!clean) process.stderr.write(`${atLineStart() ? '' : '\n'}ringvisor: ${describeEnd(report.end)}\n`);
  if (stats) process.stderr.write(formatStats(report.stats).join('\n') + '\n');
  return signalled ? 128 + SIGNALS[signalled] : report.status;
}
