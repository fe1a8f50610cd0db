// The bundled minikernel driven the way the proof does: a scripted shell session piped
// into `ringvisor run`, its transcript compared byte for byte with the expected one (the same file
// the PV build's session must reproduce), and the disk write found in the host file afterwards.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { CLI, ringvisorDone } from './spawn.js';

const fixture = (name: string) => readFileSync(new URL(`fixtures/${name}`, import.meta.url), 'latin1');
const SESSION_INPUT = fixture('minikernel-session.in');
const SESSION_OUTPUT = fixture('minikernel-session.out');
/** What the shell's `disk` command writes at sector 1 (sources/minikernel/user/programs.c). */
const DISK_TEXT = 'minikernel disk block: written by the disk command\n';

/** Strategies `ringvisor vmms` lists as available (first word of each line). */
const available = spawnSync(process.execPath, [CLI, 'vmms'], { encoding: 'utf8' }).stdout.split('\n')
  .filter((line) => /^\S+\s+available\b/.test(line)).map((line) => line.split(/\s+/)[0]);
/** The other techniques the bare build must run under unchanged (issue #14, proof 4). */
const OTHER_BARE = ['full', 'hw:vmx'];
for (const vmm of [...OTHER_BARE, 'para'].filter((name) => !available.includes(name))) {
  process.stderr.write(`minikernel: skipping the run under ${vmm}: ringvisor vmms does not list it as available\n`);
}

/** Runs the scripted session; returns the transcript, status and the disk's sector 1. */
async function session(args: string[]): Promise<{ stdout: string; stderr: string; status: number | null; sector: Buffer }> {
  const disk = blankDisk();
  const result = await ringvisorDone(['run', ...args, '--disk', disk, '--max-time', '300'], SESSION_INPUT);
  return { ...result, sector: readFileSync(disk).subarray(512, 1024) };
}

function expectDiskWritten(sector: Buffer): void {
  expect(sector.toString('latin1', 0, DISK_TEXT.length)).toBe(DISK_TEXT);
  expect(sector.subarray(DISK_TEXT.length).every((byte) => byte === 0)).toBe(true);
}

function blankDisk(): string {
  const path = join(mkdtempSync(join(tmpdir(), 'minikernel-')), 'disk.img');
  writeFileSync(path, new Uint8Array(1 << 20));
  return path;
}

describe('minikernel (bare build)', () => {
  it('runs the scripted session under none with the expected transcript and writes the disk', async () => {
    const result = await session(['minikernel']);
    expect(result.stderr).toBe('');
    expect(result.stdout).toBe(SESSION_OUTPUT);
    expect(result.status).toBe(0); // ACPI soft-off
    expectDiskWritten(result.sector);
  }, 320_000);

  it.each(OTHER_BARE.filter((vmm) => available.includes(vmm)))('prints the same session under %s', async (vmm) => {
    const result = await session(['minikernel', '--vmm', vmm]);
    expect(result.stdout).toBe(SESSION_OUTPUT);
    expect(result.status).toBe(0);
    expectDiskWritten(result.sector);
  }, 320_000);

  it.each(['none', 'full'].filter((vmm) => vmm === 'none' || available.includes(vmm)))('offers --disk-access ro read-only under %s: the write fails and the file stays as it was', async (vmm) => {
    const disk = blankDisk();
    const before = readFileSync(disk);
    const result = await ringvisorDone(['run', 'minikernel', '--vmm', vmm, '--disk', disk, '--disk-access', 'ro', '--max-time', '300'], 'disk\npoweroff\n');
    expect(result.stdout).toContain('$ disk\r\ndisk: 2048 sectors; wrote sector 1 FAILED, read back DIFFERENT\r\n');
    expect(result.status).toBe(0);
    expect(Buffer.compare(readFileSync(disk), before)).toBe(0);
    const bad = await ringvisorDone(['run', 'minikernel', '--disk', disk, '--disk-access', 'r']);
    expect(bad.stderr).toMatch(/bad value 'r' for --disk-access/);
  }, 320_000);

  it('says so when there is no disk, answers an unknown command and measures with bench', async () => {
    const result = await ringvisorDone(['run', 'minikernel', '--max-time', '300'], 'disk\nnonsense\nbench\npoweroff\n');
    for (const what of ['getpid', 'demand-zero fault', 'copy-on-write fault', 'fork\\+exec\\+wait']) {
      expect(result.stdout).toMatch(new RegExp(`^bench: ${what} [1-9]\\d* cycles\r$`, 'm'));
    }
    expect(result.stdout).toContain('$ disk\r\ndisk: no disk\r\n');
    expect(result.stdout).toContain('unknown command: nonsense\r\n');
    expect(result.stdout).toContain('powering off\r\n');
    expect(result.status).toBe(0);
  }, 320_000);
});

describe.skipIf(!available.includes('para'))('minikernel-pv (Xen PV build) under para', () => {
  it('prints the bare build\'s session line for line and writes the disk through blkif', async () => {
    const result = await session(['minikernel-pv', '--vmm', 'para']);
    expect(result.stdout).toBe(SESSION_OUTPUT);
    expect(result.status).toBe(0); // SCHEDOP_shutdown, SHUTDOWN_poweroff
    expectDiskWritten(result.sector);
  }, 320_000);

  it('gets a --disk-access ro disk as a read-only vbd: blkif answers the write with an error', async () => {
    const disk = blankDisk();
    const before = readFileSync(disk);
    const result = await ringvisorDone(['run', 'minikernel-pv', '--vmm', 'para', '--disk', disk, '--disk-access', 'ro', '--max-time', '300'], 'disk\npoweroff\n');
    expect(result.stdout).toContain('$ disk\r\ndisk: 2048 sectors; wrote sector 1 FAILED, read back DIFFERENT\r\n');
    expect(result.status).toBe(0);
    expect(Buffer.compare(readFileSync(disk), before)).toBe(0);
  }, 320_000);
});
