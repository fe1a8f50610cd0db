import { formatOptions, type OptionSpec } from './args.js';
import { ESCAPE_HELP } from './escape-keys.js';

export const RUN_OPTIONS: readonly OptionSpec[] = [
  { name: 'vmm', value: 'NAME', help: 'VMM strategy: none (emulated CPU, default), full (binary translation, trap-and-emulate,\nshadow page tables), para (Xen PV: a PV kernel calls the hypervisor), hw or hw:kvm (Linux KVM),\nhw:vmx (VT-x emulated by x86-core: hardware-assisted, runs everywhere)' },
  { name: 'cpu', value: 'MODEL', help: 'CPU model: i686 (default) or x86-64 (long mode, SSE/SSE2; --vmm none only),\nwhich boots 64-bit kernels such as Debian\'s amd64 bzImage' },
  { name: 'mem', value: 'SIZE', help: 'guest RAM, e.g. 64M (default), 512K, 3G; above 3 GiB the rest sits above 4 GiB (PAE)' },
  { name: 'kernel', value: 'FILE', help: 'boot Linux: a bzImage or an uncompressed vmlinux ELF (i386: 32-bit boot protocol;\nx86-64: entered at startup_64 in long mode, needs --cpu x86-64)' },
  { name: 'initrd', value: 'FILE', help: 'initial RAM disk for --kernel' },
  { name: 'append', value: 'CMDLINE', help: 'kernel command line (Linux or Multiboot; for --kernel the default is console=ttyS0)' },
  { name: 'multiboot', help: 'IMAGE is a Multiboot kernel (detected by its header otherwise)' },
  { name: 'flat', value: 'ADDR', help: 'IMAGE is a raw binary loaded and entered at ADDR\n(real mode below 1 MiB, 32-bit protected mode above)' },
  { name: 'bios', value: 'FILE', help: 'firmware ROM mapped at the top of 4 GiB; alone, the CPU starts in it' },
  { name: 'vcpus', value: 'N', help: 'vCPUs of a para-virtual guest (--vmm para; default 1): its kernel brings up\nthe others (Xen\'s VCPUOP_up); the board has no local APICs for the other strategies' },
  { name: 'disk', value: 'FILE', help: 'virtio-blk disk backed by a host file (a PV kernel gets it as Xen blkif)' },
  { name: 'disk-access', value: 'MODE', help: 'rw (default) or ro: the disk is offered read-only (VIRTIO_BLK_F_RO; blkif\nVDISK_READONLY), its file opened read-only, and the guest\'s writes fail' },
  { name: 'serial', value: 'DEV', help: 'serial console: stdio (default), file:PATH, tcp:PORT (listens on 127.0.0.1;\nport 0 picks a free one; the port is printed on stderr)' },
  { name: 'clock', value: 'KIND', help: 'virtual (time from instructions retired: reproducible; the default)\nor host (wall time; the default with --vmm hw and hw:kvm)' },
  { name: 'rtc', value: 'TIME', help: 'what the RTC shows at power-on: host (the host\'s time now, default) or a UTC\ndate or date-time, e.g. 2026-01-01 or 2026-01-01T08:30:00 (reproducible runs)' },
  { name: 'seed', value: 'N', help: 'virtio-rng gives a fixed byte stream for seed N (default: the host\'s CSPRNG);\nwith the virtual clock and a fixed --rtc a run repeats exactly' },
  { name: 'max-time', value: 'SECONDS', help: 'stop the VM after this much wall time (exit status 124)' },
  { name: 'stats', help: 'print exit statistics to stderr when the VM ends' },
  { name: 'help', help: 'show this help' },
];

export const MAIN_HELP = `Usage: ringvisor <command> [options]

Runs x86 guests on Ringvisor's hosted hypervisor, on an emulated CPU or on Linux KVM.

Commands:
  run [IMAGE]     boot a guest (the bundled 'demo' when no IMAGE is given)
  type1 PLATFORM  boot the bare-metal (type 1) hypervisor on a platform file
  xl COMMAND      manage a running type1 hypervisor (list, create, destroy, ...)
  vmms            list the VMM strategies and whether each can run here
  guests          list the bundled guests
  help [COMMAND]  show help for a command

Options:
  --help, -h      show this help
  --version       print the version

Run 'ringvisor run --help' for the options of run.
`;

export function runHelp(guestNames: readonly string[]): string {
  return `Usage: ringvisor run [options] [IMAGE]

Boots IMAGE in a VM on its own worker thread and connects its first serial port.
IMAGE is a bundled guest name (${guestNames.join(', ') || 'none bundled'}) or a file: a Multiboot
kernel or a Linux bzImage (recognised by their headers) or, with --flat ADDR, a raw binary.
Without IMAGE (and without --kernel or --bios) the bundled 'demo' boots.

Options:
${formatOptions(RUN_OPTIONS)}

Console keys (serial on stdio; on a terminal the console is raw, keys go to the guest):
${ESCAPE_HELP.map((line) => `  ${line}`).join('\n')}

Exit status: 0 when the guest powers off cleanly or writes 0 to the exit port (0xf4); the code
it wrote otherwise; 124 at --max-time; 128+N on signal N; 1 on other ends (triple fault,
HLT with interrupts disabled, quit from the console); 2 on a usage error.
`;
}

export const VMMS_HELP = `Usage: ringvisor vmms

Lists every VMM strategy --vmm accepts, whether it can run on this host (and why not), and what it is.
`;

export const GUESTS_HELP = `Usage: ringvisor guests

Lists the guests bundled with Ringvisor; 'ringvisor run NAME' boots one.
`;
