// A real VM in a real worker thread: the built package (dist/, which holds the worker entry), the
// real strategies and the bundled guests.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { GUESTS, readGuestImage } from '@ringvisor/guests';
import { hwStrategy } from '@ringvisor/vmm-hw';
import { HostedVm, type HostedVmOptions, type MachineConfig, type StrategyEntry } from '../dist/index.js';

const none: StrategyEntry = { name: 'none', module: import.meta.resolve('@ringvisor/x86-core'), exportName: 'noneStrategy' };
const hw: StrategyEntry = { name: 'hw', module: import.meta.resolve('@ringvisor/vmm-hw'), exportName: 'hwStrategy' };
const hwMissing = hwStrategy.unavailableReason();
if (hwMissing) process.stderr.write(`hypervisor-type2: skipping the hw runs: ${hwMissing}\n`);

const MiB = 1024 * 1024;
const scratch = mkdtempSync(join(tmpdir(), 'ringvisor-t2-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function multiboot(name: 'hello' | 'demo' | 'irq-test'): MachineConfig {
  return { memory: 32 * MiB, boot: { kind: 'multiboot', image: readGuestImage(name) } };
}

/** A real-mode flat binary at 0x7c00. */
function realMode(bytes: number[]): MachineConfig {
  return { memory: 4 * MiB, boot: { kind: 'flat', image: Uint8Array.from(bytes), address: 0x7c00 } };
}

/** Starts a VM with its serial output collected; `until(text)` waits for it to appear. */
async function boot(options: Omit<HostedVmOptions, 'serial'>) {
  let output = '';
  const waiters: (() => void)[] = [];
  const vm = await HostedVm.start({
    unpaced: true,
    ...options,
    serial: { kind: 'console', write: (bytes) => { output += Buffer.from(bytes).toString('latin1'); waiters.splice(0).forEach((w) => w()); } },
  });
  const until = (text: string) => new Promise<void>((resolve, reject) => {
    const check = () => (output.includes(text) ? resolve() : waiters.push(check));
    check();
    void vm.done.then((report) => reject(new Error(`VM ended (${JSON.stringify(report.end)}) before '${text}'; output: ${output}`)));
  });
  return { vm, until, output: () => output };
}

describe.each([
  ['none', none, null],
  ['hw', hw, hwMissing],
] as const)('HostedVm with strategy %s', (_name, strategy, missing) => {
  it.skipIf(missing)('runs hello to its exit-port code 0: output, status 0, exit counts by port', async () => {
    const { vm, output } = await boot({ strategy, machine: multiboot('hello') });
    const report = await vm.done;
    expect(output()).toContain(GUESTS.hello.expectedOutput);
    expect(report.end).toEqual({ reason: 'exit-code', code: 0 });
    expect(report.status).toBe(0);
    expect(report.stats.byReason.io).toBeGreaterThan(10);
    expect(new Map(report.stats.byPort).get(0xf4)).toBe(1);
  });

  it.skipIf(missing)('ends a guest that halts with interrupts disabled as a dead machine', async () => {
    const { vm } = await boot({ strategy, machine: realMode([0xfa, 0xf4]) }); // cli; hlt
    const report = await vm.done;
    expect(report.end.reason).toBe('dead');
    expect(report.status).toBe(1);
  });

  it.skipIf(missing)('keeps serving the host while the guest sleeps in HLT with nothing scheduled', async () => {
    // mov al,0xff; out 0x21,al; out 0xa1,al (mask every IRQ); sti; hlt; jmp hlt
    const { vm } = await boot({ strategy, machine: realMode([0xb0, 0xff, 0xe6, 0x21, 0xe6, 0xa1, 0xfb, 0xf4, 0xeb, 0xfd]), clock: 'host' });
    await new Promise((resolve) => setTimeout(resolve, 100));
    const started = performance.now();
    const stats = await vm.stats();
    expect(performance.now() - started).toBeLessThan(5_000);
    expect(new Map(stats.byPort).get(0xa1)).toBe(1);
    vm.pause();
    vm.resume();
    vm.stop({ reason: 'stopped', detail: 'asleep' });
    expect((await vm.done).end).toEqual({ reason: 'stopped', detail: 'asleep' });
  });

  it.skipIf(missing)('reports a triple fault (an exception with an empty IDT)', async () => {
    // UD2 in flat protected mode, where the loader leaves the IDT limit at 0: #UD, #GP, #DF, shutdown.
    const machine: MachineConfig = { memory: 4 * MiB, boot: { kind: 'flat', image: Uint8Array.of(0x0f, 0x0b), address: 0x100000 } };
    const { vm } = await boot({ strategy, machine });
    const report = await vm.done;
    expect(report.end.reason).toBe('triple-fault');
    expect(report.status).toBe(1);
  });
});

/**
 * Flat 32-bit code that checks the virtio-mmio slot 0 registers and reports through the exit port:
 *   mov eax,[0xd0000000]; cmp eax,'virt'; jne bad     ; MagicValue
 *   mov eax,[0xd0000008]; cmp eax,2; jne bad          ; DeviceID: block
 *   mov eax,[0xd0000100]; cmp eax,2048; jne bad       ; config.capacity (512-byte sectors), low half
 *   mov al,0; out 0xf4,al; hlt
 *   bad: mov al,1; out 0xf4,al; hlt
 */
const VIRTIO_BLK_PROBE = [
  0xa1, 0x00, 0x00, 0x00, 0xd0, 0x3d, 0x76, 0x69, 0x72, 0x74, 0x75, 0x1b,
  0xa1, 0x08, 0x00, 0x00, 0xd0, 0x83, 0xf8, 0x02, 0x75, 0x11, 0xa1, 0x00,
  0x01, 0x00, 0xd0, 0x3d, 0x00, 0x08, 0x00, 0x00, 0x75, 0x05, 0xb0, 0x00,
  0xe6, 0xf4, 0xf4, 0xb0, 0x01, 0xe6, 0xf4, 0xf4,
];

describe.each([
  ['none', none, null],
  ['hw', hw, hwMissing],
] as const)('virtio-blk on a host file with strategy %s', (_name, strategy, missing) => {
  it.skipIf(missing)('shows the guest a block device as large as the file', async () => {
    const disk = join(scratch, `disk-${_name}.img`);
    writeFileSync(disk, new Uint8Array(MiB));
    const machine: MachineConfig = {
      memory: 4 * MiB, disk, boot: { kind: 'flat', image: Uint8Array.from(VIRTIO_BLK_PROBE), address: 0x100000 },
    };
    const { vm } = await boot({ strategy, machine });
    expect((await vm.done).end).toEqual({ reason: 'exit-code', code: 0 });
  });
});

describe('HostedVm timers', () => {
  // irq-test counts PIT ticks (IRQ 0, 100 Hz) across one RTC second, sleeping in HLT between them:
  // deadline-bounded runs, due timers, HLT wake-ups and the clock all have to be right to pass.
  it('pass irq-test on the virtual clock', async () => {
    const { vm, output } = await boot({ strategy: none, machine: multiboot('irq-test') });
    const report = await vm.done;
    expect(output()).toContain(GUESTS['irq-test'].expectedOutput);
    expect(report.status).toBe(0);
    expect(report.stats.guestNs).toBeGreaterThan(1e9);
  });

  it('follow wall time on the host clock, also while the guest sleeps', async () => {
    // mov al,0xff; out 0x21,al; out 0xa1,al (mask every IRQ); sti; hlt; jmp hlt
    const started = performance.now();
    const { vm } = await boot({ strategy: none, machine: realMode([0xb0, 0xff, 0xe6, 0x21, 0xe6, 0xa1, 0xfb, 0xf4, 0xeb, 0xfd]), clock: 'host' });
    await new Promise((resolve) => setTimeout(resolve, 300));
    const { guestNs } = await vm.stats();
    const wallNs = (performance.now() - started) * 1e6;
    vm.stop();
    await vm.done;
    expect(guestNs).toBeGreaterThanOrEqual(290e6);
    expect(guestNs).toBeLessThanOrEqual(wallNs);
  });
});

describe('HostedVm reproducibility', () => {
  it('runs a timer-driven guest identically twice on the virtual clock (with a fixed RTC start)', async () => {
    const runs = [];
    for (let i = 0; i < 2; i++) {
      // irq-test waits for an RTC second boundary: the RTC must start at the same instant both times.
      const { vm, output } = await boot({ strategy: none, machine: { ...multiboot('irq-test'), rtcStart: Date.UTC(2026, 0, 1) } });
      const { stats } = await vm.done;
      runs.push({ output: output(), instructions: stats.instructions, guestNs: stats.guestNs, byReason: stats.byReason, byPort: stats.byPort });
    }
    expect(runs[1]).toEqual(runs[0]);
  });
});

describe('HostedVm guest RAM', () => {
  it('lives in SharedArrayBuffers the calling thread can read (strategy none)', async () => {
    const { vm } = await boot({ strategy: none, machine: multiboot('hello') });
    await vm.done;
    expect(vm.ram.length).toBeGreaterThan(0);
    const text = vm.ram.map((region) => Buffer.from(new Uint8Array(region.buffer)).toString('latin1')).join('');
    expect(vm.ram.every((region) => region.buffer instanceof SharedArrayBuffer)).toBe(true);
    expect(text).toContain(GUESTS.hello.expectedOutput);
  });
});

describe('HostedVm machine ends and RTC', () => {
  it('ends with power-off (status 0) when the guest writes SLP_EN with the \\_S5 type to PM1a control', async () => {
    // mov dx, 0x604; mov ax, (5 << 10) | (1 << 13); out dx, ax; hlt
    const { vm } = await boot({ strategy: none, machine: realMode([0xba, 0x04, 0x06, 0xb8, 0x00, 0x34, 0xef, 0xf4]) });
    const report = await vm.done;
    expect(report.end).toEqual({ reason: 'power-off' });
    expect(report.status).toBe(0);
  });

  it('ends with reset (status 1) on the FADT reset register 0xCF9', async () => {
    // mov dx, 0xcf9; mov al, 6; out dx, al; hlt
    const { vm } = await boot({ strategy: none, machine: realMode([0xba, 0xf9, 0x0c, 0xb0, 0x06, 0xee, 0xf4]) });
    const report = await vm.done;
    expect(report.end).toEqual({ reason: 'reset' });
    expect(report.status).toBe(1);
  });

  // mov al, 9 (CMOS year); out 0x70, al; in al, 0x71; out 0xf4, al (exit code = the BCD year); hlt
  const READ_YEAR = [0xb0, 0x09, 0xe6, 0x70, 0xe4, 0x71, 0xe6, 0xf4, 0xf4];
  const bcd = (n: number) => ((Math.floor(n / 10) << 4) | (n % 10));

  it('starts the RTC at the host\'s time by default, at rtcStart when given', async () => {
    const year = new Date().getUTCFullYear() % 100;
    const host = await boot({ strategy: none, machine: realMode(READ_YEAR) });
    expect((await host.vm.done).end).toEqual({ reason: 'exit-code', code: bcd(year) });
    const fixed = await boot({ strategy: none, machine: { ...realMode(READ_YEAR), rtcStart: Date.UTC(2031, 4, 6) } });
    expect((await fixed.vm.done).end).toEqual({ reason: 'exit-code', code: 0x31 });
  });
});

describe('HostedVm control', () => {
  it('pauses, reports statistics, resumes and stops the demo', async () => {
    const { vm, until } = await boot({ strategy: none, machine: multiboot('demo') });
    await until(GUESTS.demo.expectedOutput);
    vm.pause();
    const first = await vm.stats();
    await new Promise((resolve) => setTimeout(resolve, 100));
    const second = await vm.stats();
    expect(second.instructions).toBe(first.instructions);
    expect(first.byReason.io).toBeGreaterThan(0);
    vm.resume();
    let third = await vm.stats();
    while (third.instructions === second.instructions) third = await vm.stats();
    expect(third.instructions).toBeGreaterThan(second.instructions);
    vm.stop({ reason: 'stopped', detail: 'test over' });
    const report = await vm.done;
    expect(report.end).toEqual({ reason: 'stopped', detail: 'test over' });
    expect(report.status).toBe(1);
    expect(report.stats.instructions).toBeGreaterThanOrEqual(third.instructions);
    expect(await vm.stats()).toEqual(report.stats);
  });

  it('answers a command typed at the demo and powers off with status 0', async () => {
    const { vm, until, output } = await boot({ strategy: none, machine: multiboot('demo') });
    await until('press a key');
    vm.sendSerial(Buffer.from('\r')); // Enter leaves the live counter; any other key would start the command line
    await until('> ');
    vm.sendSerial(Buffer.from('help\r'));
    await until('poweroff  exit the VM');
    vm.sendSerial(Buffer.from('poweroff\r'));
    const report = await vm.done;
    expect(output()).toContain('Powering off');
    expect(report.status).toBe(0);
  });

  it('ends at the time limit with status 124', async () => {
    const { vm } = await boot({ strategy: none, machine: multiboot('demo'), maxTimeSeconds: 0.3 });
    const report = await vm.done;
    expect(report.end).toEqual({ reason: 'time-limit', seconds: 0.3 });
    expect(report.status).toBe(124);
  });

  it('refuses to start an image that does not fit, with the loader\'s reason', async () => {
    const machine: MachineConfig = { memory: 4 * MiB, boot: { kind: 'flat', image: new Uint8Array(16), address: 0x7ffff8 } };
    await expect(HostedVm.start({ strategy: none, machine })).rejects.toThrow(/flat|RAM|outside/i);
  });
});

describe('serial backends', () => {
  it('writes the serial console to a file', async () => {
    const path = join(scratch, 'serial.log');
    const vm = await HostedVm.start({ strategy: none, machine: multiboot('hello'), serial: { kind: 'file', path }, unpaced: true });
    expect((await vm.done).status).toBe(0);
    expect(readFileSync(path, 'latin1')).toContain(GUESTS.hello.expectedOutput);
  });

  it('serves the serial console on 127.0.0.1 over TCP, the boot log kept for a late client, input included', async () => {
    const vm = await HostedVm.start({ strategy: none, machine: multiboot('demo'), serial: { kind: 'tcp', port: 0 }, unpaced: true });
    expect(vm.serialTcpPort).toBeGreaterThan(0);
    // Connect only once the banner has gone out on COM1 (hundreds of THR writes).
    while ((new Map((await vm.stats()).byPort).get(0x3f8) ?? 0) < 300) await new Promise((resolve) => setTimeout(resolve, 20));
    const socket = connect({ host: '127.0.0.1', port: vm.serialTcpPort! });
    const closed = new Promise((resolve) => socket.on('close', resolve));
    let received = '';
    const waiting: (() => void)[] = [];
    socket.on('data', (data: Buffer) => { received += data.toString('latin1'); waiting.splice(0).forEach((check) => check()); });
    const seen = (text: string) => new Promise<void>((resolve) => {
      const check = () => (received.includes(text) ? resolve() : waiting.push(check));
      check();
    });
    await seen('press a key');
    expect(received).toContain(GUESTS.demo.expectedOutput);
    socket.write('\r');
    await seen('> ');
    socket.write('poweroff\r');
    expect((await vm.done).status).toBe(0);
    await closed;
    expect(received).toContain('Powering off');
  });

  it('refuses a TCP port that is taken, in one line', async () => {
    const first = await HostedVm.start({ strategy: none, machine: multiboot('demo'), serial: { kind: 'tcp', port: 0 } });
    await expect(HostedVm.start({ strategy: none, machine: multiboot('demo'), serial: { kind: 'tcp', port: first.serialTcpPort! } }))
      .rejects.toThrow(`cannot listen on 127.0.0.1:${first.serialTcpPort} for the serial port: EADDRINUSE`);
    first.stop();
    await first.done;
  });
});
