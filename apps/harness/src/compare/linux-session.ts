// The macro workloads: Debian's i686 kernel with the project's initramfs (bench linux's guest),
// booted once per strategy that boots a native kernel, timed to its init's marker, then driven
// through its busybox shell on the serial console: a fork/exec loop, sha256 of a 16 MiB file, a dd
// to the virtio disk with fsync. Each workload runs once to warm what the host caches, then once
// measured: a boot and its workloads already take minutes per strategy under emulation. Host
// seconds are the harness's clock around the typed command; guest seconds the guest's
// /proc/uptime around the workload. The VM runs on the host clock (its TSC counts wall time), but
// on a loaded host Linux's watchdog finds the TSC skewed against late ticks and moves to the PIT
// and the ACPI PM timer, and the guest's seconds come out short of wall time.
// para runs only Xen PV kernels built without PAE, and Debian ships its Xen PV support in a PAE kernel.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HostedVm } from '@ringvisor/hypervisor-type2';
import { BOOT_OPTIONS, fetchGuest, MARKER, type Guest } from '../bench-linux.js';
import { countsOf, difference, eventsOf, exitReasonsOf, type Counts, type EventCounts } from './events.js';
import { modeledCycles } from './model.js';
import type { CompareStrategy } from './strategies.js';

const BOOT_LIMIT_S = 900;
const COMMAND_LIMIT_S = 900;
const MEMORY = 128 << 20;
const DISK_BYTES = 16 << 20;
const SHELL_LIMIT_S = 300;
// The bench's command line without rv.poweroff: init keeps a shell on the console.
const APPEND = `console=ttyS0 quiet ${BOOT_OPTIONS}`;
const PARA_SKIP = 'runs Xen PV kernels without PAE only; Debian\'s i686 kernel is not one, so para cannot boot this Linux yet';

/**
 * Shell functions the workloads use. `t CMD...` runs a command with its output discarded between
 * two reads of /proc/uptime and prints `RV-T start end status`. `fe N` forks and execs /bin/true N
 * times (a path, so busybox's shell really execs rather than running its applet in-process).
 */
const SETUP = [
  't() { read a x < /proc/uptime; "$@" > /dev/null 2>&1; s=$?; read b x < /proc/uptime; echo "RV-T $a $b $s"; }',
  'fe() { i=0; while [ $i -lt $1 ]; do /bin/true; i=$((i+1)); done; }',
  'dw() { dd if=/tmp/f of=/dev/vda bs=1M count=$1 conv=fsync && sync; }',
];
/**
 * The 16 MiB file sha256sum reads and dd writes, in the initramfs's tmpfs. Zeros: SHA-256 costs the
 * same whatever the bytes, and 16 MiB from /dev/urandom takes ~50 s of emulated ChaCha20 per boot.
 */
const MAKE_FILE = 'dd if=/dev/zero of=/tmp/f bs=1M count=16';

export interface MacroWorkload {
  readonly name: string;
  readonly label: string;
  /** Operations in one run (the command's N). */
  readonly operations: number;
  readonly command: string;
}

export const LINUX_BOOT = { name: 'linux-boot', label: 'Linux boot to the init marker' } as const;
export const MACRO_WORKLOADS: readonly MacroWorkload[] = [
  { name: 'linux-forkexec', label: 'fork+exec+wait of /bin/true', operations: 20, command: 'fe 20' },
  { name: 'linux-sha256', label: 'sha256sum of a 16 MiB file', operations: 1, command: 'sha256sum /tmp/f' },
  { name: 'linux-dd', label: 'dd 8 MiB to /dev/vda, fsync, sync', operations: 1, command: 'dw 8' },
];

export interface LinuxRow {
  readonly benchmark: string;
  readonly label: string;
  readonly strategy: string;
  readonly operations?: number;
  /** Host wall seconds per operation: boot to marker, or the typed command to its answer. */
  readonly hostSeconds?: number;
  /** Guest seconds per operation from the guest's /proc/uptime (10 ms ticks); none for the boot. */
  readonly guestSeconds?: number;
  /** hostSeconds / the same under none; null without a none figure. */
  readonly ratioToNone?: number | null;
  /** The technique's events per operation. */
  readonly events?: EventCounts;
  readonly exitReasons?: Record<string, number>;
  readonly modeledCycles?: number | null;
  readonly skipped?: string;
  readonly failed?: string;
}

const BENCHMARKS = [LINUX_BOOT, ...MACRO_WORKLOADS];

/** One booted Linux: its console, a way to type a line, and its statistics. */
class LinuxSession {
  private output = '';
  private waiter: (() => void) | null = null;
  private vm: HostedVm | null = null;
  private commands = 0;

  async boot(strategy: CompareStrategy, guest: Guest, disk: string): Promise<{ seconds: number; counts: Counts }> {
    const start = performance.now();
    this.vm = await HostedVm.start({
      strategy: strategy.entry,
      machine: { memory: MEMORY, disk, boot: { kind: 'linux', kernel: readFileSync(guest.bzImage), initrd: readFileSync(guest.initrd), cmdline: APPEND } },
      clock: 'host',
      serial: { kind: 'console', write: (bytes) => { this.output += Buffer.from(bytes).toString('latin1'); this.waiter?.(); } },
      maxTimeSeconds: BOOT_LIMIT_S + COMMAND_LIMIT_S * 12,
    });
    await this.until(() => this.output.includes(MARKER), BOOT_LIMIT_S, 'the init marker');
    const seconds = (performance.now() - start) / 1000;
    const counts = countsOf(await this.vm.stats());
    // The console's shell starts after the marker and input sent before it opens the port is
    // lost (and kernel messages may follow its prompt), so ask until it answers.
    const shellUp = (): boolean => /\nRV-UP\r?\n/.test(this.output);
    const deadline = performance.now() + SHELL_LIMIT_S * 1000;
    while (!shellUp()) {
      if (performance.now() > deadline) throw new Error(`no shell within ${SHELL_LIMIT_S} s of the marker: ${this.output.slice(-200)}`);
      this.vm.sendSerial(Buffer.from('echo RV-\'\'UP\n', 'latin1'));
      await this.until(shellUp, 5, 'the shell').catch(() => {});
    }
    return { seconds, counts };
  }

  private until(done: () => boolean, limitSeconds: number, what: string): Promise<void> {
    const vm = this.vm;
    if (!vm) throw new Error('no VM');
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => { this.waiter = null; reject(new Error(`no ${what} within ${limitSeconds} s: ${this.output.slice(-200)}`)); }, limitSeconds * 1000);
      const check = (): void => {
        if (!done()) return;
        clearTimeout(timer);
        this.waiter = null;
        resolve();
      };
      void vm.done.then((report) => { clearTimeout(timer); this.waiter = null; reject(new Error(`the VM ended (${report.end.reason}) waiting for ${what}`)); });
      this.waiter = check;
      check();
    });
  }

  /** Types a line; the output up to the answer's end and the host time to it. */
  async command(line: string): Promise<{ text: string; ms: number }> {
    if (!this.vm) throw new Error('no VM');
    const end = new RegExp(`\\nRV-DONE-${++this.commands}\\r?\\n`);
    const start = this.output.length;
    const t0 = performance.now();
    // The quotes keep the echo of the typed line (wrapped at the console's width) from matching.
    this.vm.sendSerial(Buffer.from(`${line}; echo RV-DONE-''${this.commands}\n`, 'latin1'));
    await this.until(() => end.test(this.output.slice(start)), COMMAND_LIMIT_S, `answer to '${line}'`);
    return { text: this.output.slice(start), ms: performance.now() - t0 };
  }

  async counts(): Promise<Counts> {
    if (!this.vm) throw new Error('no VM');
    return countsOf(await this.vm.stats());
  }

  async stop(): Promise<void> {
    if (!this.vm) return;
    this.vm.stop();
    await this.vm.done;
  }
}

interface Run { hostSeconds: number; guestSeconds: number; counts: Record<string, number> }

async function timed(session: LinuxSession, workload: MacroWorkload): Promise<Run> {
  const before = await session.counts();
  const { text, ms } = await session.command(`t ${workload.command}`);
  const after = await session.counts();
  const m = /RV-T (\d+\.\d+) (\d+\.\d+) (\d+)/.exec(text);
  if (!m) throw new Error(`unexpected answer to '${workload.command}': ${text.trim().slice(-200)}`);
  if (m[3] !== '0') throw new Error(`'${workload.command}' exited with status ${m[3]}`);
  return { hostSeconds: ms / 1000, guestSeconds: Number(m[2]) - Number(m[1]), counts: difference(after, before) };
}

function perOperation(counts: Readonly<Record<string, number>>, operations: number) {
  const per: Record<string, number> = {};
  for (const [name, n] of Object.entries(counts)) if (n > 0) per[name] = n / operations;
  const events = eventsOf(per);
  return { events, exitReasons: exitReasonsOf(per), modeledCycles: modeledCycles(events) };
}

async function measureStrategy(strategy: CompareStrategy, guest: Guest, log: (line: string) => void): Promise<LinuxRow[]> {
  const name = strategy.entry.name;
  const scratch = mkdtempSync(join(tmpdir(), 'ringvisor-compare-'));
  const disk = join(scratch, 'disk.img');
  writeFileSync(disk, new Uint8Array(DISK_BYTES));
  const session = new LinuxSession();
  const rows: LinuxRow[] = [];
  const fail = (why: string): LinuxRow[] => [...rows, ...BENCHMARKS.slice(rows.length).map((b) => ({ benchmark: b.name, label: b.label, strategy: name, failed: why }))];
  try {
    log(`${name}: booting Linux`);
    const boot = await session.boot(strategy, guest, disk);
    rows.push({ benchmark: LINUX_BOOT.name, label: LINUX_BOOT.label, strategy: name, operations: 1, hostSeconds: boot.seconds, ...perOperation(boot.counts, 1) });
    log(`${name}: Linux at the marker in ${boot.seconds.toFixed(1)} s`);
    for (const line of SETUP) await session.command(line);
    const made = await session.command(`${MAKE_FILE} 2>/dev/null; echo RV-FILE $?`);
    if (!/RV-FILE 0/.test(made.text)) throw new Error(`could not make the 16 MiB file: ${made.text.trim().slice(-200)}`);
    for (const workload of MACRO_WORKLOADS) {
      await timed(session, workload);
      const measured = await timed(session, workload);
      const n = workload.operations;
      rows.push({
        benchmark: workload.name, label: workload.label, strategy: name, operations: n,
        hostSeconds: measured.hostSeconds / n, guestSeconds: measured.guestSeconds / n, ...perOperation(measured.counts, n),
      });
      log(`${name}: ${workload.name} ${(measured.hostSeconds / n).toFixed(4)} s/op host, ${(measured.guestSeconds / n).toFixed(4)} s/op guest`);
    }
    return rows;
  } catch (error) {
    return fail((error as Error).message.split('\n')[0]);
  } finally {
    await session.stop();
    rmSync(scratch, { recursive: true, force: true });
  }
}

/** Every Linux row for every strategy: measured, or skipped/failed with the reason. */
export async function linuxRows(
  strategies: readonly { strategy: CompareStrategy; ran: boolean; skipped?: string }[], log: (line: string) => void,
): Promise<LinuxRow[]> {
  const skip = (strategy: string, why: string): LinuxRow[] => BENCHMARKS.map((b) => ({ benchmark: b.name, label: b.label, strategy, skipped: why }));
  let guest: Guest;
  try {
    guest = fetchGuest();
  } catch (error) {
    const why = `no Debian kernel (tools/linux-guest.mjs: ${(error as Error).message.split('\n')[0]})`;
    return strategies.flatMap((s) => skip(s.strategy.entry.name, why));
  }
  const rows: LinuxRow[] = [];
  for (const s of strategies) {
    const name = s.strategy.entry.name;
    if (!s.ran) rows.push(...skip(name, s.skipped ?? 'not run'));
    else if (s.strategy.guest !== 'minikernel') rows.push(...skip(name, PARA_SKIP));
    else rows.push(...await measureStrategy(s.strategy, guest, log));
  }
  const ordered = BENCHMARKS.flatMap((b) => rows.filter((r) => r.benchmark === b.name));
  return ordered.map((r) => {
    if (r.hostSeconds === undefined) return r;
    const none = ordered.find((x) => x.benchmark === r.benchmark && x.strategy === 'none')?.hostSeconds;
    return { ...r, ratioToNone: none ? r.hostSeconds / none : null };
  });
}
