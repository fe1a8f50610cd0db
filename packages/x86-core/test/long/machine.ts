import { readFileSync } from 'node:fs';
import { createMachine, runImageOn, type GuestRun, type MachineOptions } from '../pm/machine.js';

export interface LongGuestOptions extends MachineOptions {
  /** Run guests/byte-reports/<name>.bin (the image QEMU runs) and join its byte reports into dwords. */
  byteReports?: boolean;
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
