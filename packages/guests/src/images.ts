/** The guests this package ships, as prebuilt images built by build.sh from sources/. */
export type GuestName = 'firmware-hello' | 'hello-real' | 'hello' | 'irq-test' | 'microbench' | 'demo'
  | 'sensitive'
  | 'escape'
  | 'minikernel'
  | 'minikernel-pv';

/**
 * How to start an image: firmware is mapped as the board's ROM and started from RESET; a flat
 * binary needs its load address and CPU mode given; multiboot kernels carry their own addresses.
 */
export type GuestFormat =
  | { readonly kind: 'firmware'; readonly size: number }
  | { readonly kind: 'flat'; readonly loadAddress: number; readonly entry: number; readonly mode: 'real' }
  | { readonly kind: 'multiboot'; readonly loadAddress: number; readonly entry: number; readonly mode: 'protected' }
  /** An ELF kernel for Xen's x86-32 PV ABI: its ELF notes tell a PV domain builder where and how. */
  | { readonly kind: 'xen-pv'; readonly virtBase: number; readonly entry: number };

export interface GuestImage {
  readonly name: GuestName;
  /** File name inside the package's images/ folder. */
  readonly file: string;
  readonly format: GuestFormat;
  readonly description: string;
  /** A line the guest prints on COM1 when it works; harnesses wait for it. */
  readonly expectedOutput: string;
  /** Whether the guest ends by itself (writing to the exit port) or runs until told to power off. */
  readonly exits: 'by-itself' | 'on-poweroff-command';
}

/** Multiboot kernels are linked at 1 MiB (sources/common/link.ld). */
const KERNEL_BASE = 0x100000;

export const GUESTS: Readonly<Record<GuestName, GuestImage>> = {
  'firmware-hello': {
    name: 'firmware-hello',
    file: 'firmware-hello.rom',
    format: { kind: 'firmware', size: 4096 },
    description: 'a 4 KiB firmware ROM started from the reset vector: prints on COM1 and exits with code 0',
    expectedOutput: 'Hello from firmware!',
    exits: 'by-itself',
  },
  'hello-real': {
    name: 'hello-real',
    file: 'hello-real.bin',
    format: { kind: 'flat', loadAddress: 0x7c00, entry: 0x7c00, mode: 'real' },
    description: 'real-mode serial hello: prints on COM1 and exits with code 0',
    expectedOutput: 'Hello from real mode!',
    exits: 'by-itself',
  },
  hello: {
    name: 'hello',
    file: 'hello.elf',
    format: { kind: 'multiboot', loadAddress: KERNEL_BASE, entry: 0x10000c, mode: 'protected' },
    description: 'protected-mode serial hello (multiboot): prints on COM1 and exits with code 0',
    expectedOutput: 'Hello from protected mode!',
    exits: 'by-itself',
  },
  'irq-test': {
    name: 'irq-test',
    file: 'irq-test.elf',
    format: { kind: 'multiboot', loadAddress: KERNEL_BASE, entry: 0x10000c, mode: 'protected' },
    description: 'PIC + PIT interrupt test: counts 100 Hz ticks across one RTC second; exit 0 = pass',
    expectedOutput: 'irq-test: PASS',
    exits: 'by-itself',
  },
  microbench: {
    name: 'microbench',
    file: 'microbench.elf',
    format: { kind: 'multiboot', loadAddress: KERNEL_BASE, entry: 0x10000c, mode: 'protected' },
    description: 'TSC cycles per call/ret, INT/IRET, IN, OUT, CPUID, #DE, PTE update + INVLPG, #PF; exits 0',
    expectedOutput: 'microbench: done',
    exits: 'by-itself',
  },
  demo: {
    name: 'demo',
    file: 'demo.elf',
    format: { kind: 'multiboot', loadAddress: KERNEL_BASE, entry: 0x10000c, mode: 'protected' },
    description: 'demo kernel: paging, a ring-3 shell (help, info, bench, poweroff) on COM1 with IRQ-driven input',
    expectedOutput: 'Ringvisor demo',
    exits: 'on-poweroff-command',
  },
  sensitive: {
    name: 'sensitive',
    file: 'sensitive.elf',
    format: { kind: 'multiboot', loadAddress: KERNEL_BASE, entry: 0x10000c, mode: 'protected' },
    description: 'every sensitive and privileged instruction at CPL 0 and CPL 3, with the exceptions and frames they give; exits 0',
    expectedOutput: 'sensitive: done',
    exits: 'by-itself',
  },
  escape: {
    name: 'escape',
    file: 'escape.elf',
    format: { kind: 'multiboot', loadAddress: KERNEL_BASE, entry: 0x10000c, mode: 'protected' },
    description: 'maps every frame, pattern-tests all RAM, probes above RAM, MMIO holes, the top 4 MiB and 4 GiB segments; exits 0',
    expectedOutput: 'escape: done',
    exits: 'by-itself',
  },
  minikernel: {
    name: 'minikernel',
    file: 'minikernel.elf',
    format: { kind: 'multiboot', loadAddress: KERNEL_BASE, entry: 0x10000c, mode: 'protected' },
    description: 'small Unix-like kernel: ring-3 processes, preemption, demand paging, COW fork, virtio-blk, a COM1 shell',
    expectedOutput: 'minikernel shell: type help',
    exits: 'on-poweroff-command',
  },
  'minikernel-pv': {
    name: 'minikernel-pv',
    file: 'minikernel-pv.elf',
    format: { kind: 'xen-pv', virtBase: 0xc0000000, entry: 0xc0000000 },
    description: 'minikernel built for Xen\'s x86-32 PV ABI (ring 1, hypercalls, event channels, console ring, blkif); needs a PV strategy',
    expectedOutput: 'minikernel shell: type help',
    exits: 'on-poweroff-command',
  },
};
