import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GUEST_LOAD } from '../pm/machine.js';

// Runs the flat test guests (pm/, long/) under QEMU's TCG: a reset ROM jumps to 0000:GUEST_LOAD, the
// guest's byte reports arrive on isa-debugcon at 0xE4, a write to 0xE0 (isa-debug-exit) ends QEMU.

/** True when `binary` runs (`--version`); the differential tests skip otherwise. */
export function qemuInstalled(binary: string): boolean {
  return spawnSync(binary, ['--version']).status === 0;
}

/** A scratch directory for ROM and report files; `cleanup` removes it. */
export function qemuScratch(prefix: string): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A 64 KiB BIOS image whose reset vector jumps to 0000:GUEST_LOAD. */
function resetRom(dir: string): string {
  const rom = new Uint8Array(0x10000).fill(0xff);
  rom.set([0xea, GUEST_LOAD & 0xff, GUEST_LOAD >> 8, 0, 0], 0xfff0);
  const path = join(dir, 'reset.rom');
  writeFileSync(path, rom);
  return path;
}

/** Runs `image` (a byte-reports guest) under `binary` with `extra` arguments; returns its reports as dwords. */
export function runImageUnderQemu(binary: string, dir: string, name: string, image: string, extra: string[] = []): number[] {
  const out = join(dir, `${name}.out`);
  writeFileSync(out, '');
  spawnSync(binary, [
    '-display', 'none', '-nodefaults', '-no-reboot', '-m', '4', ...extra, '-bios', resetRom(dir),
    '-device', `loader,file=${image},addr=${GUEST_LOAD},force-raw=on`,
    '-chardev', `file,id=reports,path=${out}`, '-device', 'isa-debugcon,iobase=0xe4,chardev=reports',
    '-device', 'isa-debug-exit,iobase=0xe0,iosize=4',
  ], { timeout: 20_000 });
  const bytes = readFileSync(out);
  const reports: number[] = [];
  for (let i = 0; i + 4 <= bytes.length; i += 4) reports.push(bytes.readUInt32LE(i));
  return reports;
}
