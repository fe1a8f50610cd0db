// The bundled minikernel driven the way the proof does: a scripted shell session piped
// into `ringvisor run`, its transcript compared byte for byte with the expected one (the same file
// the PV build's session must reproduce), and the disk write found in the host file afterwards.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ringvisorDone } from './spawn.js';

const fixture = (name: string) => readFileSync(new URL(`fixtures/${name}`, import.meta.url), 'latin1');
const SESSION_INPUT = fixture('minikernel-session.in');
const SESSION_OUTPUT = fixture('minikernel-session.out');
/** What the shell's `disk` command writes at sector 1 (sources/minikernel/user/programs.c). */
const DISK_TEXT = 'minikernel disk block: written by the disk command\n';

function blankDisk(): string {
  const path = join(mkdtempSync(join(tmpdir(), 'minikernel-')), 'disk.img');
  writeFileSync(path, new Uint8Array(1 << 20));
  return path;
}

describe('minikernel (bare build)', () => {
  it('runs the scripted session under none with the expected transcript and writes the disk', async () => {
    const disk = blankDisk();
    const result = await ringvisorDone(['run', 'minikernel', '--disk', disk, '--max-time', '300'], SESSION_INPUT);
    expect(result.stderr).toBe('');
    expect(result.stdout).toBe(SESSION_OUTPUT);
    expect(result.status).toBe(0); // ACPI soft-off
    const sector = readFileSync(disk).subarray(512, 1024);
    expect(sector.toString('latin1', 0, DISK_TEXT.length)).toBe(DISK_TEXT);
    expect(sector.subarray(DISK_TEXT.length).every((byte) => byte === 0)).toBe(true);
  }, 320_000);

  it('says so when there is no disk and answers an unknown command', async () => {
    const result = await ringvisorDone(['run', 'minikernel', '--max-time', '300'], 'disk\nnonsense\npoweroff\n');
    expect(result.stdout).toContain('$ disk\r\ndisk: no disk\r\n');
    expect(result.stdout).toContain('unknown command: nonsense\r\n');
    expect(result.stdout).toContain('powering off\r\n');
    expect(result.status).toBe(0);
  }, 320_000);
});
