// `harness bench linux`: boots Debian's i686 kernel with the project's initramfs (tools/linux-guest.mjs)
// to the marker its init prints, under ringvisor and, in the same run, under QEMU's TCG and the v86
// npm package where they are installed. Prints a table of seconds to the marker; the last line is
// `ringvisor linux boot: N s` (or says why there is no figure), for the bzImage all three boot. A
// second ringvisor row boots the same kernel uncompressed (the tool's vmlinux ELF, as Firecracker
// would), which skips the in-guest xz decompressor. Then Debian's amd64 kernel (`--arch amd64` of the
// tool) on x86-core's x86-64 model, as a Xen PV guest (`--vmm para`: the same bzImage, its console
// on hvc0) and on QEMU's qemu-system-x86_64 (v86 has no long mode).
// --append replaces the kernel command line (for every row), --limit the seconds each may take,
// --arch i386|amd64 runs only that kernel's rows.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const MARKER = 'RINGVISOR-INIT-OK';
// The same command line for every emulator. Besides the console and the init's power-off:
// cryptomgr.notests skips the crypto self-tests Debian's kernel runs when an algorithm registers
// (testmgr: its DH and RSA vectors are 56% of this boot's instructions, ~37 s of guest time at
// 100 MHz; the option exists for short-lived VMs, and fips=1 would override it); noisapnp skips
// the ISA Plug & Play isolation scan, a chain of udelay()s (~0.35 s) on a machine that has no
// ISA PnP cards. `harness profile linux` shows both.
export const BOOT_OPTIONS = 'cryptomgr.notests noisapnp';
export const APPEND = `console=ttyS0 rv.poweroff quiet ${BOOT_OPTIONS}`;
const SEABIOS = '/usr/share/seabios/bios.bin';

/** `vmlinux` is missing when the tool could not decompress the bzImage (no xz). */
export interface Guest { bzImage: string; vmlinux?: string; initrd: string }
type Outcome = { seconds: number } | { skipped: string } | { failed: string };

export function fetchGuest(arch: 'i386' | 'amd64' = 'i386'): Guest {
  const out = execFileSync(process.execPath, [join(repo, 'tools', 'linux-guest.mjs'), '--arch', arch, '--quiet'], { encoding: 'utf8' });
  return JSON.parse(out) as Guest;
}

/** Runs a command until its output contains the marker; resolves with the elapsed seconds. */
function timeToMarker(cmd: string, args: string[], limitSeconds: number): Promise<Outcome> {
  return new Promise((done) => {
    const start = performance.now();
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let seen = '';
    let settled = false;
    const finish = (o: Outcome): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      child.kill('SIGKILL');
      done(o);
    };
    const timer = setTimeout(() => finish({ failed: `no marker within ${limitSeconds} s` }), limitSeconds * 1000);
    const watch = (chunk: Buffer): void => {
      seen = (seen + chunk.toString('latin1')).slice(-4096);
      if (seen.includes(MARKER)) finish({ seconds: (performance.now() - start) / 1000 });
    };
    child.stdout.on('data', watch);
    child.stderr.on('data', watch);
    child.on('error', (e) => finish({ failed: e.message }));
    child.on('exit', (code) => finish({ failed: `exited (${code}) before the marker: ${lastLine(seen)}` }));
  });
}

function lastLine(text: string): string {
  const lines = text.trim().split('\n');
  return (lines[lines.length - 1] ?? '').slice(0, 160);
}

/** `extra` selects the CPU model and memory where the defaults (i686, 128 MiB) do not fit the kernel. */
function ringvisor(g: Guest, kernel: string | undefined, append: string, limit: number, vmm = 'none',
  extra: readonly string[] = ['--mem', '128M']): Promise<Outcome> {
  const cli = join(repo, 'apps', 'cli', 'dist', 'main.js');
  if (!existsSync(cli)) return Promise.resolve({ skipped: 'apps/cli is not built' });
  if (kernel === undefined) return Promise.resolve({ skipped: 'no vmlinux (tools/linux-guest.mjs needs xz to make it)' });
  return timeToMarker(process.execPath, [cli, 'run', '--vmm', vmm, ...extra, '--kernel', kernel,
    '--initrd', g.initrd, '--append', append, '--max-time', String(limit)], limit + 5);
}

function qemu(g: Guest, append: string, limit: number, binary = 'qemu-system-i386',
  model: readonly string[] = ['-cpu', 'pentium3', '-m', '128']): Promise<Outcome> {
  if (spawnSync(binary, ['--version'], { stdio: 'ignore' }).status !== 0) {
    return Promise.resolve({ skipped: `${binary} not installed (apt-get install qemu-system-x86)` });
  }
  return timeToMarker(binary, ['-M', 'pc', ...model, '-nographic', '-no-reboot',
    '-kernel', g.bzImage, '-initrd', g.initrd, '-append', append], limit);
}

// The amd64 rows: x86-core's x86-64 baseline model and QEMU's qemu64 (the same baseline: long mode,
// SSE2, no later extensions), 256 MiB each (the amd64 kernel and initramfs need more than 128).
const AMD64_RINGVISOR = ['--cpu', 'x86-64', '--mem', '256M'];
const AMD64_QEMU = ['-cpu', 'qemu64', '-m', '256'];

/** v86 runs in this process: its own JIT (wasm) with SeaBIOS, as a browser page would run it. */
async function v86(g: Guest, append: string, limit: number): Promise<Outcome> {
  let V86: new (options: Record<string, unknown>) => {
    add_listener(event: string, fn: (byte: number) => void): void;
    destroy(): Promise<void> | void;
  };
  let wasm: string;
  try {
    const require = createRequire(import.meta.url);
    wasm = join(dirname(require.resolve('v86/package.json')), 'build', 'v86.wasm');
    const specifier = 'v86'; // untyped package: import by a plain string
    ({ V86 } = await import(specifier));
  } catch {
    return { skipped: 'the v86 npm package is not installed' };
  }
  if (!existsSync(SEABIOS)) return { skipped: `SeaBIOS not found at ${SEABIOS} (apt-get install seabios)` };
  const buffer = (path: string): ArrayBuffer => {
    const b = readFileSync(path);
    return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
  };
  return new Promise((done) => {
    const start = performance.now();
    const emulator = new V86({
      wasm_path: wasm, memory_size: 128 * 1024 * 1024, autostart: true,
      bios: { buffer: buffer(SEABIOS) }, bzimage: { buffer: buffer(g.bzImage) }, initrd: { buffer: buffer(g.initrd) },
      cmdline: append, disable_keyboard: true, disable_mouse: true, disable_speaker: true,
    });
    let seen = '';
    const finish = (o: Outcome): void => {
      clearTimeout(timer);
      void emulator.destroy();
      done(o);
    };
    const timer = setTimeout(() => finish({ failed: `no marker within ${limit} s` }), limit * 1000);
    emulator.add_listener('serial0-output-byte', (byte) => {
      seen = (seen + String.fromCharCode(byte)).slice(-64);
      if (seen.includes(MARKER)) finish({ seconds: (performance.now() - start) / 1000 });
    });
  });
}

const show = (o: Outcome): string =>
  'seconds' in o ? `${o.seconds.toFixed(2)} s` : 'skipped' in o ? `skipped: ${o.skipped}` : `failed: ${o.failed}`;

export async function benchLinux(args: readonly string[]): Promise<number> {
  const limitArg = args.indexOf('--limit');
  const limit = limitArg >= 0 ? Number(args[limitArg + 1]) : 600;
  const appendArg = args.indexOf('--append');
  const append = appendArg >= 0 ? args[appendArg + 1] ?? '' : APPEND;
  const archArg = args.indexOf('--arch');
  const only = archArg >= 0 ? args[archArg + 1] : undefined;
  if (only !== undefined && only !== 'i386' && only !== 'amd64') {
    process.stderr.write(`bench linux: --arch ${only}: known are i386, amd64\n`);
    return 2;
  }
  let own: Outcome | undefined;
  if (only !== 'amd64') {
    const guest = fetchGuest('i386');
    // One after another: the machine has two cores and each emulator wants one of them.
    const rows: [string, Outcome][] = [
      ['ringvisor (x86-core, --vmm none)', await ringvisor(guest, guest.bzImage, append, limit)],
      ['ringvisor (vmlinux)', await ringvisor(guest, guest.vmlinux, append, limit)],
      ['ringvisor --vmm full (binary translation)', await ringvisor(guest, guest.bzImage, append, limit, 'full')],
      // Hardware-assisted on VT-x emulated by x86-core: VMX non-root operation, EPT, a TypeScript VMM.
      ['ringvisor --vmm hw:vmx', await ringvisor(guest, guest.bzImage, append, limit, 'hw:vmx')],
      ['QEMU TCG (-cpu pentium3)', await qemu(guest, append, limit)],
      ['v86 (npm, wasm JIT)', await v86(guest, append, limit)],
    ];
    printRows(guest, append, rows);
    own = rows[0][1];
  }
  if (only !== 'i386') {
    const guest = fetchGuest('amd64');
    printRows(guest, append, [
      ['ringvisor --cpu x86-64', await ringvisor(guest, guest.bzImage, append, limit, 'none', AMD64_RINGVISOR)],
      ['ringvisor --cpu x86-64 (vmlinux)', await ringvisor(guest, guest.vmlinux, append, limit, 'none', AMD64_RINGVISOR)],
      // Para-virtualized: the kernel's console is the start_info ring (hvc0), not the UART.
      ['ringvisor --vmm para (Xen PV)', await ringvisor(guest, guest.bzImage, append.replace(/console=ttyS0\b/, 'console=hvc0'),
        limit, 'para', ['--mem', '256M'])],
      ['QEMU TCG (qemu-system-x86_64 -cpu qemu64)', await qemu(guest, append, limit, 'qemu-system-x86_64', AMD64_QEMU)],
      ['v86', { skipped: 'no long mode' }],
    ]);
  }
  if (own === undefined) return 0;
  process.stdout.write('seconds' in own ? `ringvisor linux boot: ${own.seconds.toFixed(2)} s\n` : `ringvisor linux boot: no figure (${show(own)})\n`);
  return 'seconds' in own ? 0 : 1;
}

function printRows(guest: Guest, append: string, rows: readonly [string, Outcome][]): void {
  process.stdout.write(`Linux ${guest.bzImage} + initramfs to "${MARKER}" (append "${append}"):\n`);
  if (guest.vmlinux) process.stdout.write(`  (the (vmlinux) rows boot ${guest.vmlinux}: the same kernel uncompressed, no in-guest decompressor)\n`);
  for (const [name, outcome] of rows) process.stdout.write(`  ${name.padEnd(44)} ${show(outcome)}\n`);
}
