// The Linux boot the Linux tests share (tests/linux.test.ts, tests/linux-full.test.ts): the guest from
// tools/linux-guest.mjs, a VM driven through the CLI as a user would, and the checks of one boot.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { expect } from 'vitest';

const root = resolve(import.meta.dirname, '..');
const cli = join(root, 'apps', 'cli', 'dist', 'main.js');

export interface Guest { bzImage: string; vmlinux?: string; initrd: string; release: string }

/** Debian's kernel and initramfs for `arch` from tools/linux-guest.mjs, or why there are none. */
export function fetchGuest(arch: 'i386' | 'amd64' = 'i386'): Guest | string {
  if (spawnSync('apt-get', ['--version'], { stdio: 'ignore' }).status !== 0) return 'apt-get is not available to fetch the kernel';
  const r = spawnSync(process.execPath, [join(root, 'tools', 'linux-guest.mjs'), '--arch', arch, '--quiet'], { encoding: 'utf8', timeout: 600_000 });
  // The tool fails only when apt cannot provide the packages (no mirror, no i386 lists): say so.
  if (r.status !== 0) return `tools/linux-guest.mjs --arch ${arch} could not provide the kernel: ${r.stderr.trim().split('\n').pop()}`;
  return JSON.parse(r.stdout) as Guest;
}

export const guest = fetchGuest();
export const skipReason = typeof guest === 'string' ? guest : '';
if (skipReason) console.warn(`skipping the Linux boot: ${skipReason}`);
export const vmlinuxSkipReason = skipReason || ((guest as Guest).vmlinux ? '' : 'tools/linux-guest.mjs made no vmlinux (it says why: xz missing?)');
if (vmlinuxSkipReason && !skipReason) console.warn(`skipping the vmlinux boot: ${vmlinuxSkipReason}`);
/** Options README documents for short-lived VMs: no crypto self-tests, no ISA PnP scan. */
const APPEND = 'console=ttyS0 quiet cryptomgr.notests noisapnp';

/** The console of a running VM: what it printed so far, and a way to wait for text and type. */
export function boot(kernel: string, initrd: string, disk?: string, extraArgs: readonly string[] = [], append = APPEND) {
  const child = spawn(process.execPath, [cli, 'run', '--kernel', kernel, '--initrd', initrd, '--append', append,
    '--mem', '128M', ...(disk ? ['--disk', disk] : []), '--max-time', '1500', ...extraArgs], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  const waiters: (() => void)[] = [];
  child.stdout.on('data', (b: Buffer) => { out += b.toString('latin1'); waiters.splice(0).forEach((w) => w()); });
  child.stderr.on('data', (b: Buffer) => { err += b.toString('latin1'); });
  const exit = new Promise<number | null>((done) => child.on('exit', (code) => { waiters.splice(0).forEach((w) => w()); done(code); }));
  let seen = 0;
  /** Resolves once `text` appears after everything already waited for; the output since then. */
  const waitFor = (text: string) => new Promise<string>((done, fail) => {
    const check = (): void => {
      const at = out.indexOf(text, seen);
      if (at >= 0) {
        const chunk = out.slice(seen, at + text.length);
        seen = at + text.length;
        done(chunk);
      } else if (child.exitCode !== null) fail(new Error(`VM ended before "${text}": ${err.trim()}\n${out.slice(-2000)}`));
      else waiters.push(check);
    };
    check();
  });
  return {
    waitFor,
    type: (text: string) => child.stdin.write(text),
    /** Types a command and returns what the shell printed up to its next prompt. */
    command: async (line: string) => {
      child.stdin.write(`${line}\n`);
      return waitFor('/ # ');
    },
    exit,
    output: () => out,
    /** What the VM wrote on stderr so far (--stats comes there at the end). */
    errors: () => err,
    /** Ends the VM if it still runs (a failed check must not leave a boot burning CPU). */
    kill: () => { if (child.exitCode === null) child.kill('SIGKILL'); },
  };
}

const utcDate = (ms: number) => new Date(ms).toISOString().slice(0, 10);
const MARKER = 'RINGVISOR-DISK-MARKER-5a17';
const MARKER_SECTOR = 7;


/**
 * One boot of the bzImage to a shell that runs commands, uses virtio-blk and virtio-rng, keeps the
 * date and time, and powers off; `extraArgs` go to `ringvisor run` (e.g. `--vmm full`). `target`:
 * another guest, kernel file (the amd64 vmlinux) and the MemTotal its kernel leaves of 128 MiB.
 */
export async function bootAndCheckShell(
  extraArgs: readonly string[] = [], target?: { guest: Guest; kernel: string; memTotal: RegExp },
): Promise<void> {
  const g = target?.guest ?? guest as Guest;
  const scratch = mkdtempSync(join(tmpdir(), 'ringvisor-linux-'));
  const disk = join(scratch, 'disk.img');
  writeFileSync(disk, new Uint8Array(1024 * 1024));
  const started = Date.now();
  const vm = boot(target?.kernel ?? g.bzImage, g.initrd, disk, extraArgs);
  try {
    await vm.waitFor('RINGVISOR-INIT-OK');
    await vm.waitFor('/ # ');
    const bootSeconds = (Date.now() - started) / 1000;

    expect(await vm.command('uname -sr')).toContain(`Linux ${g.release}`);
    const cpuinfo = await vm.command('grep -E "^(vendor_id|fpu|cpu family)" /proc/cpuinfo');
    expect(cpuinfo).toMatch(/vendor_id\s*: GenuineIntel/);
    expect(cpuinfo).toMatch(/fpu\s*: yes/); // the x87 model, as the kernel found it
    expect(cpuinfo).toMatch(/cpu family\s*: 6/);
    // ~128 MiB less the kernel
    expect(await vm.command('grep MemTotal /proc/meminfo')).toMatch(target?.memTotal ?? /MemTotal:\s+1\d{5} kB/);
    expect(await vm.command('echo $((6 * 7)) > /tmp/x && cat /tmp/x')).toMatch(/\b42\b/);

    // The RTC started from the host's clock (UTC): the guest's date is the host's (either side of midnight).
    const today = await vm.command('date -u +%Y-%m-%d');
    expect([utcDate(started), utcDate(Date.now())]).toContain(/\d{4}-\d{2}-\d{2}/.exec(today)?.[0]);

    // virtio-blk from the DSDT: 1 MiB = 2048 sectors; a marker written and synced lands in the host file.
    expect(await vm.command('cat /sys/block/vda/size')).toMatch(/\b2048\b/);
    await vm.command(`echo ${MARKER} | dd of=/dev/vda bs=512 seek=${MARKER_SECTOR} conv=sync,fsync && sync && echo written`);
    expect(await vm.command(`dd if=/dev/vda bs=512 skip=${MARKER_SECTOR} count=1 2>/dev/null | head -c ${MARKER.length}; echo`)).toContain(MARKER);

    // virtio-rng feeds /dev/hwrng: two reads of 16 bytes differ.
    const rng = async () => /((?:[0-9a-f]{2}\s+){15}[0-9a-f]{2})/.exec(await vm.command('head -c 16 /dev/hwrng | od -An -tx1'))?.[1].replace(/\s+/g, '');
    const first = await rng();
    const second = await rng();
    expect(first).toMatch(/^[0-9a-f]{32}$/);
    expect(second).toMatch(/^[0-9a-f]{32}$/);
    expect(second).not.toBe(first);

    // The guest clock keeps pace with the RTC through idle time, and the TSC stays the clocksource:
    // were it frozen in HLT, the acpi_pm watchdog would mark it unstable and Linux would switch away.
    await new Promise((resolve) => setTimeout(resolve, 8000));
    const drift = await vm.command('echo drift=$(( $(cat /sys/class/rtc/rtc0/since_epoch) - $(date +%s) ))');
    expect(Math.abs(Number(/drift=(-?\d+)/.exec(drift)?.[1]))).toBeLessThanOrEqual(1);
    expect(await vm.command('cat /sys/devices/system/clocksource/clocksource0/current_clocksource')).toMatch(/^tsc\r?$/m);

    const poweredOff = Date.now();
    vm.type('poweroff\n');
    expect(await vm.exit).toBe(0);
    console.info(`linux test${extraArgs.length > 0 ? ` (${extraArgs.join(' ')})` : ''}: shell after ${bootSeconds.toFixed(0)} s, power-off took ${((Date.now() - poweredOff) / 1000).toFixed(1)} s`);
    const image = readFileSync(disk);
    expect(image.subarray(MARKER_SECTOR * 512, MARKER_SECTOR * 512 + MARKER.length).toString('latin1')).toBe(MARKER);
    expect(image.subarray(0, MARKER_SECTOR * 512).every((byte) => byte === 0)).toBe(true);
  } finally {
    vm.kill();
    rmSync(scratch, { recursive: true, force: true });
  }
}

/** One boot of the uncompressed vmlinux to a shell, then power-off. */
export async function bootVmlinuxToShell(extraArgs: readonly string[] = []): Promise<void> {
  const g = guest as Guest;
  const started = Date.now();
  const vm = boot(g.vmlinux ?? '', g.initrd, undefined, extraArgs);
  try {
    await vm.waitFor('RINGVISOR-INIT-OK');
    await vm.waitFor('/ # ');
    const bootSeconds = (Date.now() - started) / 1000;
    expect(await vm.command('uname -r')).toMatch(new RegExp(`^${g.release.replace(/\./g, '\\.')}\r?$`, 'm'));
    vm.type('poweroff\n');
    expect(await vm.exit).toBe(0);
    console.info(`linux test${extraArgs.length > 0 ? ` (${extraArgs.join(' ')})` : ''}: vmlinux shell after ${bootSeconds.toFixed(0)} s`);
  } finally {
    vm.kill();
  }
}
