import { readFileSync } from 'node:fs';
import { CS, SS } from '../../src/cpu.js';
import { createMachine, runImageOn, type GuestRun, type Machine, type MachineOptions } from '../pm/machine.js';

export const SCE = 1;
export const LME = 1 << 8;
export const LMA = 1 << 10;
export const NXE = 1 << 11;
/** Where `longMachine` puts its code. */
export const CODE = 0x100000;


export interface LongGuestOptions extends MachineOptions {
  /** Run guests/byte-reports/<name>.bin (the image QEMU runs) and join its byte reports into dwords. */
  byteReports?: boolean;
}

/**
 * IA-32e paging for a bare `Machine`: CR3 at 0x70000 mapping 0-4 MiB to itself by two user-writable
 * 2 MiB pages, CR4.PAE, EFER.LME/LMA as given and CR0.PE|PG (with NE, ET, WP); the caller sets CS.
 */
export function enterIa32e(m: Machine, efer: number): void {
  const { cpu, physical } = m;
  physical.write32(0x70000, 0x71007);
  physical.write32(0x71000, 0x72007);
  physical.write32(0x72000, 0x87);
  physical.write32(0x72008, 0x200087);
  cpu.cr3 = 0x70000;
  cpu.cr4 = 0x20;
  cpu.efer = efer;
  cpu.cr0 = 0x80010011 | 0;
}

/** Runs long/guests/<name>.bin on an 'x86-64' CPU (4 MiB of RAM, mmu paging) until HLT, shutdown or `budget`. */
export function runLongGuest(name: string, budget = 5_000_000, options: LongGuestOptions = {}): GuestRun {
  const path = options.byteReports === true ? `./guests/byte-reports/${name}.bin` : `./guests/${name}.bin`;
  const image = readFileSync(new URL(path, import.meta.url));
  const run = runImageOn(createMachine({ ...options, model: 'x86-64' }), image, budget);
  if (options.byteReports !== true) return run;
  const dwords: number[] = [];
  for (let i = 0; i + 4 <= run.reports.length; i += 4) {
    const r = run.reports;
    dwords.push(((r[i] & 0xff) | ((r[i + 1] & 0xff) << 8) | ((r[i + 2] & 0xff) << 16) | ((r[i + 3] & 0xff) << 24)) >>> 0);
  }
  return { ...run, reports: dwords };
}

/** An 'x86-64' CPU in 64-bit mode at CPL 0: 0-4 MiB identity-mapped by 2 MiB pages, every exception intercepted. */
export function longMachine(code: number[] = [], efer = SCE | LME | LMA | NXE): Machine {
  const m = createMachine({ model: 'x86-64', direct: true });
  const { cpu, physical } = m;
  enterIa32e(m, efer);
  cpu.segAccess[CS] = 0xa09b;
  cpu.segAccess[SS] = 0xc093;
  cpu.modeChanged();
  cpu.intercepts.exceptions = -1;
  physical.writeBytes(CODE, Uint8Array.from(code));
  cpu.eip = CODE;
  cpu.reg32[4] = 0x80000;
  return m;
}
