// Issue 18's proof: Debian's amd64 kernel (its bzImage, unmodified) boots as a Xen PV guest under
// `ringvisor run --vmm para --kernel ... --initrd ...` to the busybox shell on hvc0 (the start_info
// console ring) with two vCPUs it brings up itself (SMP: both online, per-CPU timers and IPIs, a
// process pinned to CPU 1, steal time from the runstate areas); uname, /proc/cpuinfo's hypervisor
// flag and dmesg show a PV guest; a 32-bit process runs in compatibility mode; `--disk` is
// /dev/xvda through xen-blkfront (loaded by the initramfs) and the blkif back end: the host file's
// bytes read in the guest, a write and `sync` reach the host file; `poweroff` ends the VM through
// SCHEDOP_shutdown with status 0, and --stats counts its hypercalls by name. Skips, saying why,
// only where apt cannot provide the kernel.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { boot, fetchGuest } from './linux-boot.js';

const amd64 = fetchGuest('amd64');
const skipReason = typeof amd64 === 'string' ? amd64 : '';
if (skipReason) console.warn(`skipping the Xen PV Linux boot: ${skipReason}`);
const SEED = 'RINGVISOR-HOST-SEEDED-SECTOR-0';
const MARKER = 'RINGVISOR-XVDA-MARKER-64';
const MARKER_SECTOR = 5;

describe.skipIf(!!skipReason)('Linux amd64 as a Xen PV guest (--vmm para)', () => {
  it('boots the bzImage to a shell on hvc0 that shows a PV guest with a xen-blkfront disk, powers off with status 0, and counts hypercalls by name', async () => {
    if (typeof amd64 === 'string') return;
    const scratch = mkdtempSync(join(tmpdir(), 'ringvisor-linux-pv-'));
    const disk = join(scratch, 'disk.img');
    const image = new Uint8Array(1024 * 1024);
    image.set(new TextEncoder().encode(SEED));
    writeFileSync(disk, image);
    const started = Date.now();
    // Two vCPUs: the kernel brings up the second (VCPUOP_initialise/up) and runs on both.
    const vm = boot(amd64.bzImage, amd64.initrd, disk, ['--vmm', 'para', '--vcpus', '2', '--stats'], 'console=hvc0 quiet cryptomgr.notests');
    try {
      await vm.waitFor('RINGVISOR-INIT-OK');
      await vm.waitFor('/ # ');
      const bootSeconds = (Date.now() - started) / 1000;
      expect(await vm.command('uname -r')).toContain(amd64.release);
      expect(await vm.command('grep -c "^flags.* hypervisor" /proc/cpuinfo')).toMatch(/^2\r?$/m);
      // SMP: both vCPUs online, each with its own VIRQ_TIMER ticking and IPIs (reschedule, function
      // calls) delivered to it, and a process pinned to CPU 1 runs there.
      expect(await vm.command('cat /sys/devices/system/cpu/online')).toMatch(/^0-1\r?$/m);
      const interrupts = await vm.command('cat /proc/interrupts');
      for (const cpu of [0, 1]) {
        const timer = new RegExp(`^\\s*\\d+:((?:\\s+\\d+){2})\\s+xen-percpu\\s+-virq\\s+timer${cpu}\\r?$`, 'm').exec(interrupts);
        expect(timer, interrupts).not.toBeNull();
        expect(Number(timer![1].trim().split(/\s+/)[cpu])).toBeGreaterThan(0);
      }
      expect(interrupts).toMatch(/^RES:\s+[1-9]\d*\s+[1-9]\d*/m);
      expect(await vm.command('taskset -c 1 cat /proc/self/stat | cut -d" " -f39')).toMatch(/^1\r?$/m);
      // Steal time from the runstate areas: a busy loop pinned to each vCPU, both on the VM's one
      // thread, each runs about half the time and waits (runnable) the other half.
      const cpuTimes = async () => {
        const lines = await vm.command('grep "^cpu[01] " /proc/stat');
        return [...lines.matchAll(/^cpu(\d) (\d+) \d+ (\d+) \d+ \d+ \d+ \d+ (\d+)/gm)].map((m) => ({ ran: Number(m[2]) + Number(m[3]), steal: Number(m[4]) }));
      };
      const before = await cpuTimes();
      await vm.command("taskset -c 0 sh -c 'while :; do :; done' & taskset -c 1 sh -c 'while :; do :; done' & sleep 3; kill %1 %2");
      const after = await cpuTimes();
      expect(after).toHaveLength(2);
      for (const cpu of [0, 1]) {
        const ran = after[cpu].ran - before[cpu].ran;
        const steal = after[cpu].steal - before[cpu].steal;
        expect(steal / (ran + steal), `cpu${cpu}: ran ${ran}, steal ${steal} ticks`).toBeGreaterThan(0.3);
        expect(steal / (ran + steal), `cpu${cpu}: ran ${ran}, steal ${steal} ticks`).toBeLessThan(0.7);
      }
      const dmesg = await vm.command('dmesg | grep -i xen');
      expect(dmesg).toContain('Hypervisor detected: Xen PV');
      expect(dmesg).toMatch(/xen:balloon: Initialising balloon driver/);
      // The start-of-day area after the kernel is freed as Linux expects of Xen's builder: nothing left writable and executable.
      expect(await vm.command('dmesg | grep W+X')).toMatch(/Checked W\+X mappings: passed, no W\+X pages found/);
      // A 32-bit process (the initramfs's /bin/hello32, int $0x80) in compatibility mode under the 64-bit PV kernel.
      expect(await vm.command('/bin/hello32; echo status=$?')).toMatch(/hello from a 32-bit process\r?\nstatus=0/);
      expect(await vm.command('dmesg | grep blkfront:')).toMatch(/blkfront: xvda: flush diskcache: enabled/);

      // The blkif disk: 1 MiB = 2048 sectors, the host's bytes, and a write that sync flushes to the host file.
      expect(await vm.command('cat /sys/block/xvda/size')).toMatch(/\b2048\b/);
      expect(await vm.command(`head -c ${SEED.length} /dev/xvda; echo`)).toContain(SEED);
      expect(await vm.command(`echo ${MARKER} | dd of=/dev/xvda bs=512 seek=${MARKER_SECTOR} conv=sync,fsync && sync && echo written`)).toContain('written');
      expect(await vm.command(`dd if=/dev/xvda bs=512 skip=${MARKER_SECTOR} count=1 2>/dev/null | head -c ${MARKER.length}; echo`)).toContain(MARKER);
      const written = readFileSync(disk);
      expect(written.subarray(MARKER_SECTOR * 512, MARKER_SECTOR * 512 + MARKER.length).toString('latin1')).toBe(MARKER);
      expect(written.subarray(SEED.length, MARKER_SECTOR * 512).every((byte) => byte === 0)).toBe(true);

      // `poweroff` at the shell: busybox init stops everything and the kernel ends the domain through
      // SCHEDOP_shutdown. (The toolstack's request, xenstore control/shutdown, is type1-linux-pv.test.ts's.)
      vm.type('poweroff\n');
      expect(await vm.exit).toBe(0);
      expect(vm.output()).toContain('The system is going down NOW!');
      // The hypercalls a PV kernel cannot boot without, by name.
      const hypercalls = /hypercalls: \d+ \(([^)]*)\)/.exec(vm.errors())?.[1] ?? '';
      for (const call of ['mmu_update', 'mmuext_op', 'update_va_mapping', 'vcpu_op', 'event_channel_op', 'sched_op', 'iret', 'grant_table_op']) {
        expect(hypercalls, vm.errors()).toMatch(new RegExp(`\\b${call} [1-9]`));
      }
      console.info(`linux-pv test: shell after ${bootSeconds.toFixed(0)} s`);
    } finally {
      vm.kill();
      rmSync(scratch, { recursive: true, force: true });
    }
  }, 1_800_000);
});
