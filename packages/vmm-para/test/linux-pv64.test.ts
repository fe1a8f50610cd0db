// Issue 18 in the PV harness: Debian's amd64 kernel (its bzImage, unpacked by the builder) booted as
// a Xen PV guest. The first test is quick: xen_start_kernel's console_io lines, then start_kernel's
// banner and setup_arch's memory setup through earlyprintk=xen (console_io), in a bounded run that
// ends in a VmExit (never a host exception). The second boots on to the busybox shell on hvc0 (the
// start_info console ring), types commands into it and powers the domain off (some 3.5 G
// instructions: minutes on a loaded host).
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { PvGuest64 } from '../src/pv64/guest.js';
import { bootGuest } from './pv-harness.js';

const bzImage = fileURLToPath(new URL('../../../.cache/linux-amd64/bzImage', import.meta.url));
const initrd = fileURLToPath(new URL('../../../.cache/linux-amd64/initramfs.cpio.gz', import.meta.url));
const missing = !existsSync(bzImage) ? 'no .cache/linux-amd64/bzImage (node tools/linux-guest.mjs --arch amd64 fetches it)' : '';

describe('Debian amd64 Linux as a Xen PV guest in the PV harness', () => {
  it.skipIf(missing !== '')(`boots through xen_start_kernel to start_kernel's banner and memory setup on the PV console${missing ? ` (skipped: ${missing})` : ''}`, () => {
    const booted = bootGuest(readFileSync(bzImage), {
      ramSize: 256 << 20, cmdline: 'earlyprintk=xen console=hvc0', initrd: readFileSync(initrd),
    });
    const exit = booted.run(600);
    const output = booted.output();
    expect(output).toContain('mapping kernel into physical memory\n');
    expect(output).toContain('about to get started...\n');
    expect(output).toMatch(/\] Linux version 6\.1\.0-\d+-amd64 /);
    expect(output).toContain('Hypervisor detected: Xen PV');
    expect(output).toMatch(/Xen: \[mem 0x0000000000100000-0x[0-9a-f]+\] usable/);
    // Superpages are refused to a PV guest, so its CPUID (forced emulation) does not offer them: no failed multicall.
    expect(output).not.toContain('multicall(s) failed');
    const counters = booted.stats.counters!;
    for (const call of ['xen_version', 'memory_op', 'update_va_mapping', 'set_gdt', 'set_trap_table', 'mmuext_op', 'console_io', 'vcpu_op']) {
      expect(counters.get(`hypercall ${call}`), call).toBeGreaterThan(0);
    }
    expect(counters.get('emulated cpuid')).toBeGreaterThan(0);
    // A bounded run: the kernel is still going (no crash, no host exception) when the budget ends.
    expect(exit).toEqual({ reason: 'budget' });
    expect((booted.pv as PvGuest64).domain.stop).toBe(null);
  }, 600_000);

  it.skipIf(missing !== '')(`boots to a busybox shell on hvc0, answers uname -r, /proc/cpuinfo and dmesg as a Xen PV guest, and poweroff ends the domain${missing ? ` (skipped: ${missing})` : ''}`, () => {
    const booted = bootGuest(readFileSync(bzImage), { ramSize: 256 << 20, cmdline: 'console=hvc0', initrd: readFileSync(initrd) });
    // The shell's prompt on hvc0, within a bound (it comes after about 3.3 G instructions).
    for (let i = 0; i < 60 && !booted.output().includes('/ # '); i++) expect(booted.run(1000)).toEqual({ reason: 'budget' });
    const boot = booted.output();
    expect(boot).toContain('RINGVISOR-INIT-OK');
    expect(boot).toContain('built-in shell (ash)');
    expect(boot).not.toMatch(/BUG:|Oops|Kernel panic|alg: .*failed/);
    booted.pv.consoleInput(new TextEncoder().encode('uname -r; grep -c hypervisor /proc/cpuinfo; dmesg | grep -i xen | head -4; poweroff -f\n'));
    let exit = booted.run(1000);
    for (let i = 0; i < 20 && exit.reason === 'budget'; i++) exit = booted.run(1000);
    // SCHEDOP_shutdown(poweroff): the domain's end with status 0.
    expect(exit).toEqual({ reason: 'shutdown', cause: 'power-off' });
    const session = booted.output().slice(boot.length);
    expect(session).toMatch(/\n6\.1\.0-\d+-amd64\r?\n/);
    expect(session).toMatch(/\n1\r?\n/);
    expect(session).toMatch(/Xen/);
    expect(booted.stats.named('emulated page-table writes')).toBeGreaterThan(0);
    expect(booted.stats.named('guest system calls')).toBeGreaterThan(0);
  }, 1_800_000);
});
