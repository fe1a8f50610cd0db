// Test PV guests: small assembly programs linked into ELF images with Xen's notes (GNU as/ld at
// test time; nothing runs on the host CPU), booted in a `para` VM with a manual virtual clock.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type {
  AccessSize, Clock, ExitReason, ExitStats, PvBlockDevice, PvDomain, TimerId, Vcpu, Vm, VmExit,
} from '@ringvisor/vmm-api';
import { paraStrategy } from '../src/index.js';

/** True when GNU as and ld for i386 are here. */
export function haveToolchain(): boolean {
  try {
    execFileSync('as', ['--version'], { stdio: 'ignore' });
    execFileSync('ld', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const PRELUDE = `
.macro NOTE type
.pushsection .note.Xen,"a",@note
.balign 4
.long 4, 2f-1f, \\type
.asciz "Xen"
1:
.endm
.macro ENDNOTE
2: .balign 4
.popsection
.endm
NOTE 6
.asciz "pvtest"
ENDNOTE
NOTE 5
.asciz "xen-3.0"
ENDNOTE
NOTE 3
.long 0xC0000000
ENDNOTE
NOTE 4
.long 0xC0000000
ENDNOTE
NOTE 1
.long _start
ENDNOTE
NOTE 2
.long hypercall_page
ENDNOTE
NOTE 9
.asciz "no"
ENDNOTE
.macro HYPERCALL nr
  mov $\\nr, %eax
  int $0x82
.endm
/* console_io write of a string: label, length */
.macro PRINT str, len
  mov $0, %ebx
  mov $\\len, %ecx
  mov $\\str, %edx
  HYPERCALL 18
.endm
.macro POWEROFF
  movl $0, shutdown_reason
  mov $2, %ebx
  mov $shutdown_reason, %ecx
  HYPERCALL 29
.endm
.data
shutdown_reason: .long 0
.text
`;

const EPILOGUE = `
.text
.balign 4096
.globl hypercall_page
hypercall_page: .skip 4096
`;

const LINKER_SCRIPT = `SECTIONS { . = 0xC0000000; .text : { *(.text) } . = ALIGN(4096); .data : { *(.data) *(.bss) } .note.Xen : { *(.note.Xen) } }`;

const cacheDir = join(tmpdir(), 'ringvisor-pv-test-guests');

/** Assembles `body` (AT&T syntax, `_start` its entry) into a PV kernel image. */
export function assembleGuest(body: string): Uint8Array {
  const source = `${PRELUDE}\n.globl _start\n${body}\n${EPILOGUE}`;
  const key = createHash('sha256').update(source).digest('hex').slice(0, 16);
  mkdirSync(cacheDir, { recursive: true });
  const dir = mkdtempSync(join(cacheDir, `${key}-`));
  writeFileSync(join(dir, 'guest.S'), source);
  writeFileSync(join(dir, 'guest.ld'), LINKER_SCRIPT);
  execFileSync('as', ['--32', '-o', join(dir, 'guest.o'), join(dir, 'guest.S')], { stdio: 'pipe' });
  execFileSync('ld', ['-m', 'elf_i386', '-T', join(dir, 'guest.ld'), '-e', '_start', '-o', join(dir, 'guest.elf'), join(dir, 'guest.o')], { stdio: 'pipe' });
  const image = new Uint8Array(readFileSync(join(dir, 'guest.elf')));
  const symbols: Record<string, number> = {};
  for (const line of execFileSync('nm', [join(dir, 'guest.elf')], { encoding: 'utf8' }).split('\n')) {
    const [value, , name] = line.split(' ');
    if (name) symbols[name] = parseInt(value, 16);
  }
  symbolTables.set(image, symbols);
  return image;
}

const symbolTables = new WeakMap<Uint8Array, Record<string, number>>();

/** The address of `name` in an image `assembleGuest` built. */
export function symbol(image: Uint8Array, name: string): number {
  const value = symbolTables.get(image)?.[name];
  if (value === undefined) throw new Error(`no symbol ${name}`);
  return value;
}

/** xorshift32: the same sequence on every run. */
export function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

/** A clock the test drives: time is the vCPU's TSC × 10 ns, as under the virtual clock. */
export class TestClock implements Clock {
  readonly kind = 'virtual' as const;
  ns = 0;
  private nextId = 1;
  private readonly timers = new Map<TimerId, { deadline: number; callback: () => void }>();

  now(): number {
    return this.ns;
  }

  schedule(deadline: number, callback: () => void): TimerId {
    const id = this.nextId++;
    this.timers.set(id, { deadline, callback });
    return id;
  }

  cancel(id: TimerId): void {
    this.timers.delete(id);
  }

  nextDeadline(): number {
    let next = Infinity;
    for (const t of this.timers.values()) next = Math.min(next, t.deadline);
    return next;
  }

  fireDue(): void {
    for (const [id, t] of [...this.timers].sort((a, b) => a[1].deadline - b[1].deadline)) {
      if (t.deadline <= this.ns) {
        this.timers.delete(id);
        t.callback();
      }
    }
  }
}

export class TestStats implements ExitStats {
  readonly byReason = new Map<ExitReason, number>();
  readonly byPort = new Map<number, number>();
  readonly counters = new Map<string, number>();
  count(reason: ExitReason): void {
    this.byReason.set(reason, (this.byReason.get(reason) ?? 0) + 1);
  }
  countNamed(name: string, n = 1): void {
    this.counters.set(name, (this.counters.get(name) ?? 0) + n);
  }
  named(name: string): number {
    return this.counters.get(name) ?? 0;
  }
}

/** A disk in memory. */
export class MemoryDisk implements PvBlockDevice {
  readonly readOnly = false;
  /** Flush requests served (a cache flush has nothing to write back here). */
  flushes = 0;
  constructor(readonly bytes: Uint8Array) {}
  get size(): number {
    return this.bytes.length;
  }
  read(offset: number, into: Uint8Array): void {
    into.set(this.bytes.subarray(offset, offset + into.length));
  }
  write(offset: number, from: Uint8Array): void {
    this.bytes.set(from, offset);
  }
  flush(): void {
    this.flushes++;
  }
}

const noBus = {
  read: (_address: number, _size: AccessSize) => 0xffffffff,
  write: () => {},
};

export interface BootedGuest {
  readonly vm: Vm;
  readonly vcpu: Vcpu;
  readonly pv: PvDomain;
  readonly clock: TestClock;
  readonly stats: TestStats;
  /** Everything the guest wrote to its console (ring and console_io). */
  output(): string;
  /** Runs until the domain ends or `maxRuns` runs pass; skips halted time to the next timer. */
  run(maxRuns?: number): VmExit;
  /** Host-side byte budget the console takes per write (models a slow terminal). */
  consoleRoom: number;
}

export const RAM_SIZE = 16 * 1024 * 1024;

export function bootGuest(
  image: Uint8Array, options: { disk?: PvBlockDevice; cmdline?: string; initrd?: Uint8Array; ramSize?: number; vcpus?: number } = {},
): BootedGuest {
  const clock = new TestClock();
  const stats = new TestStats();
  const vm = paraStrategy.createVm({
    regions: [{ base: 0, size: options.ramSize ?? RAM_SIZE }], io: noBus, mmio: noBus,
    interrupts: { pending: () => false, acknowledge: () => 0 }, stats, clock,
  });
  const vcpu = vm.createVcpu(0);
  const chunks: Uint8Array[] = [];
  const booted: BootedGuest = {
    vm, vcpu, clock, stats, consoleRoom: Infinity,
    pv: vm.buildPvDomain!({
      image, clock, cmdline: options.cmdline, disk: options.disk, initrd: options.initrd, vcpus: options.vcpus,
      console: {
        write: (bytes) => {
          const n = Math.min(bytes.length, booted.consoleRoom);
          chunks.push(bytes.slice(0, n));
          return n;
        },
      },
    }),
    output: () => Buffer.concat(chunks).toString('latin1'),
    run: (maxRuns = 10_000) => {
      let exit: VmExit = { reason: 'budget' };
      for (let i = 0; i < maxRuns; i++) {
        const budget = Math.max(1, Math.min(100_000, Math.floor((clock.nextDeadline() - clock.ns) / 10)));
        exit = vcpu.run(budget);
        clock.ns = Math.max(clock.ns, vcpu.retired * 10 + skipped * 10);
        if (exit.reason === 'hlt') {
          const deadline = clock.nextDeadline();
          if (deadline === Infinity) return exit;
          if (deadline > clock.ns) {
            const ticks = Math.ceil((deadline - clock.ns) / 10);
            vcpu.advanceTsc?.(ticks);
            skipped += ticks;
            clock.ns = deadline;
          }
        } else if (exit.reason !== 'budget') return exit;
        clock.fireDue();
      }
      // Runs used up while the guest waits for a timer it armed: it is not stopped, its budget ended.
      return exit.reason === 'hlt' ? { reason: 'budget' } : exit;
    },
  };
  let skipped = 0;
  return booted;
}
