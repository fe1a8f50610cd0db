// `ringvisor run` with real guests, driven through pipes and through a pseudo-terminal.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { hwStrategy } from '@ringvisor/vmm-hw';
import { ringvisor, ringvisorDone, ringvisorOnTerminal } from './spawn.js';

const hwMissing = hwStrategy.unavailableReason();
const hasScript = spawnSync('script', ['--version'], { stdio: 'ignore' }).status === 0;
if (!hasScript) process.stderr.write('cli: skipping the pseudo-terminal test: util-linux script is missing\n');

describe('ringvisor run, non-interactive', () => {
  it('runs the hello guest to its exit-port code 0 and prints statistics with the POST code', async () => {
    const result = await ringvisorDone(['run', 'hello', '--stats']);
    expect(result.stdout).toContain('Hello from protected mode!');
    expect(result.status).toBe(0);
    expect(result.stderr).toMatch(/^exits: \d+ \(/m);
    expect(result.stderr).toMatch(/^ports: .*0xf4 1/m);
    expect(result.stderr).toMatch(/^post: (none|0x[0-9a-f]{2})$/m);
  });

  it('boots the demo when no image is given and stops at --max-time with status 124', async () => {
    // Long enough for the banner on a loaded machine (it takes well under a second alone).
    const result = await ringvisorDone(['run', '--max-time', '4'], '');
    expect(result.stdout).toContain('Ringvisor demo');
    expect(result.status).toBe(124);
    expect(result.stderr).toBe('ringvisor: time limit of 4 s reached\n');
  });

  it.skipIf(hwMissing)('runs hello under --vmm hw', async () => {
    const result = await ringvisorDone(['run', 'hello', '--vmm', 'hw']);
    expect(result.stdout).toContain('Hello from protected mode!');
    expect(result.status).toBe(0);
  });
});

describe('ringvisor run --bios', () => {
  it('starts at the reset vector of the ROM, keeps its POST code and exits with the code it wrote', async () => {
    // At FFFFFFF0 (offset 0xff0 of a 4 KiB ROM): mov al,0x42; out 0x80,al; mov al,5; out 0xf4,al; hlt
    const rom = new Uint8Array(4096);
    rom.set([0xb0, 0x42, 0xe6, 0x80, 0xb0, 0x05, 0xe6, 0xf4, 0xf4], 0xff0);
    const path = join(mkdtempSync(join(tmpdir(), 'ringvisor-cli-')), 'rom.bin');
    writeFileSync(path, rom);
    const result = await ringvisorDone(['run', '--bios', path, '--stats']);
    expect(result.status).toBe(5);
    expect(result.stderr).toContain('ringvisor: guest exited with code 5\n');
    expect(result.stderr).toMatch(/^post: 0x42$/m);
  });

  it('honours the A20 gate: with both sources off, 0xFFFF:0010 wraps to address 0', async () => {
    // The gate is the keyboard controller's output port bit 1 OR port 0x92 bit 1: clear both.
    const guest = Uint8Array.from([
      0xb0, 0xd1, //                   mov al, 0xd1      ; i8042: write output port
      0xe6, 0x64, //                   out 0x64, al
      0xb0, 0xdd, //                   mov al, 0xdd      ; A20 off, reset line inactive
      0xe6, 0x60, //                   out 0x60, al
      0xb8, 0xff, 0xff, //             mov ax, 0xffff
      0x8e, 0xd8, //                   mov ds, ax
      0xe4, 0x92, //                   in al, 0x92
      0x24, 0xfd, //                   and al, ~2        ; A20 off
      0xe6, 0x92, //                   out 0x92, al
      0xc6, 0x06, 0x10, 0x00, 0x5a, // mov byte [0x10], 0x5a  ; linear 0x100000 → 0 without A20
      0x31, 0xc0, //                   xor ax, ax
      0x8e, 0xd8, //                   mov ds, ax
      0xa0, 0x00, 0x00, //             mov al, [0]
      0xe6, 0xf4, //                   out 0xf4, al      ; exit with what landed at 0
      0xf4, //                         hlt
    ]);
    const path = join(mkdtempSync(join(tmpdir(), 'ringvisor-cli-')), 'a20.bin');
    writeFileSync(path, guest);
    const result = await ringvisorDone(['run', '--flat', '0x7c00', path]);
    expect(result.status).toBe(0x5a);
  });

  it('boots the bundled firmware guest by name from the reset vector', async () => {
    const result = await ringvisorDone(['run', 'firmware-hello']);
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(result.stdout.length).toBeGreaterThan(0);
  });
});

describe('ringvisor run --serial', () => {
  it('writes the console to a file', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'ringvisor-cli-')), 'com1.log');
    const result = await ringvisorDone(['run', 'hello', '--serial', `file:${path}`]);
    expect(result.status).toBe(0);
    expect(result.stdout).toBe('');
    expect(readFileSync(path, 'latin1')).toContain('Hello from protected mode!');
  });

  it('serves the console on a TCP port of 127.0.0.1', async () => {
    const run = ringvisor(['run', 'demo', '--serial', 'tcp:0']);
    while (!/on 127\.0\.0\.1:\d+\n/.test(run.stderr())) await new Promise((resolve) => setTimeout(resolve, 20));
    const port = Number(/on 127\.0\.0\.1:(\d+)\n/.exec(run.stderr())![1]);
    const socket = connect({ host: '127.0.0.1', port });
    let received = '';
    const typed = new Set<string>();
    const typeOnce = (text: string) => { if (!typed.has(text)) socket.write(text); typed.add(text); };
    socket.on('data', (data: Buffer) => {
      received += data.toString('latin1');
      if (received.includes('press a key')) typeOnce('\r');
      if (received.includes('> ')) typeOnce('poweroff\r');
    });
    expect(await run.exit).toBe(0);
    expect(received).toContain('Powering off');
    expect(run.stdout()).toBe('');
  });
});

describe('ringvisor run --disk', () => {
  it('gives the guest a virtio-blk disk as large as the host file', async () => {
    // Flat 32-bit code: exit 0 when virtio-mmio slot 0 says 'virt', device 2 (block), 2048 sectors;
    // exit 1 otherwise (the same probe as hypervisor-type2's worker tests, assembled with GNU as).
    const probe = Buffer.from('a1000000d03d76697274751ba1080000d083f8027511a1000100d03d000800007505b000e6f4f4b001e6f4f4', 'hex');
    const dir = mkdtempSync(join(tmpdir(), 'ringvisor-cli-'));
    writeFileSync(join(dir, 'probe.bin'), probe);
    writeFileSync(join(dir, 'disk.img'), new Uint8Array(1024 * 1024));
    const result = await ringvisorDone(['run', '--flat', '0x100000', join(dir, 'probe.bin'), '--disk', join(dir, 'disk.img')]);
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
  });
});

describe('ringvisor run, console on pipes', () => {
  it('takes a command typed at the demo, holds it while paused, prints its answer, and quits on Ctrl-A x', async () => {
    const run = ringvisor(['run']);
    await run.waitFor('press a key');
    run.type('\r');
    await run.waitFor('> ');
    run.type('\x01p');
    run.type('help\n');
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(run.stdout()).not.toContain('poweroff  exit the VM');
    run.type('\x01p');
    await run.waitFor('poweroff  exit the VM');
    run.type('\x01s');
    run.type('\x01x');
    expect(await run.exit).toBe(1);
    expect(run.stderr()).toContain('[ringvisor] paused (Ctrl-A p resumes)\n[ringvisor] resumed\n');
    expect(run.stderr()).toContain('[ringvisor] post: ');
    expect(run.stderr()).toContain('ringvisor: stopped: quit from the console (Ctrl-A x)');
  });

  it('presses the ACPI power button on Ctrl-A o: a guest that handles it powers off (status 0)', async () => {
    // hypervisor-type1's test guest: it enables PWRBTN_EN and enters S5 on the SCI.
    const guest = join(dirname(fileURLToPath(import.meta.resolve('@ringvisor/hypervisor-type1/package.json'))), 'guests', 'acpi-button.bin');
    const run = ringvisor(['run', '--flat', '0x100000', guest]);
    await run.waitFor('PWRBTN_EN set');
    run.type('\x01o');
    expect(await run.exit).toBe(0);
    expect(run.stdout()).toContain('power button pressed, entering S5');
    expect(run.stderr()).toContain('[ringvisor] ACPI power button pressed');
  });

  it('asks a Xen PV kernel through xenstore control/shutdown on Ctrl-A o: minikernel-pv powers off (status 0)', async () => {
    const run = ringvisor(['run', 'minikernel-pv', '--vmm', 'para']);
    await run.waitFor('minikernel shell: type help', 60_000);
    run.type('\x01o');
    expect(await run.exit).toBe(0);
    expect(run.stdout()).toContain('minikernel: shutdown requested by the toolstack');
    expect(run.stderr()).toContain("[ringvisor] xenstore control/shutdown = poweroff (a Xen PV guest's power button)");
  }, 90_000);

  it('ends with status 0 when the guest powers off', async () => {
    const run = ringvisor(['run', 'demo']);
    await run.waitFor('press a key');
    run.type('\r');
    await run.waitFor('> ');
    run.type('poweroff\n');
    expect(await run.exit).toBe(0);
    expect(run.stdout()).toContain('Powering off');
    expect(run.stderr()).toBe('');
  });

  it('stops with one line when the reader of its output goes away (ringvisor run | head)', async () => {
    const run = ringvisor(['run']);
    await run.waitFor('Ringvisor demo');
    run.child.stdout.destroy();
    expect(await run.exit).toBe(1);
    expect(run.stderr()).toMatch(/^ringvisor: stopped: standard output closed \(EPIPE\)\n$/);
  });

  it('stops cleanly on SIGTERM with status 143', async () => {
    const run = ringvisor(['run']);
    await run.waitFor('Ringvisor demo');
    run.child.kill('SIGTERM');
    expect(await run.exit).toBe(143);
    expect(run.stderr()).toContain('ringvisor: stopped: SIGTERM');
  });
});

describe.skipIf(!hasScript)('ringvisor run, console on a terminal', () => {
  it('is raw (Ctrl-C goes to the guest), answers a command, and quits on Ctrl-A x', async () => {
    const run = ringvisorOnTerminal(['run']);
    await run.waitFor('press a key');
    run.type('\r');
    await run.waitFor('> ');
    run.type('\x03');
    run.type('help\r');
    await run.waitFor('poweroff  exit the VM');
    run.type('\x01x');
    expect(await run.exit).toBe(1);
    expect(run.stdout()).toContain('quit from the console');
  });
});
