import { afterAll, describe, expect, it } from 'vitest';
import { qemuInstalled, qemuScratch, runImageUnderQemu } from '../support/qemu.js';
import { hex } from '../pm/machine.js';
import { runLongGuest } from './machine.js';

// The 64-bit guests (guests/*.S) under QEMU's TCG (`qemu-system-x86_64`, CPU qemu64 with 1 GiB
// pages), built with BYTE_REPORTS for its byte-wide isa-debugcon: every report must be the same.
const COMPARED = ['basic', 'paging', 'syscall', 'ist', 'compat', 'farcall', 'alu-fuzz', 'sse', 'x87'];
/** Instruction budgets beyond the default 5 million. */
const BUDGET: Record<string, number> = { sse: 40_000_000, x87: 20_000_000 };

/**
 * QEMU's known deviations in these guests, where the SDM says otherwise, taken as the SDM has them
 * (each exactly where our report is the SDM's value): a #GP/#NP for an IDT gate in IA-32e mode
 * has QEMU's error code vector * 16 + 2 where the SDM's is vector * 8 + 2 (the IDT vector in the
 * selector-index field, SDM Vol. 3A 6.13); a reserved-bit #PF has QEMU's error code without P
 * (SDM Vol. 3A 4.7: P is 0 only when an entry was not present). Returns the adjusted reports.
 */
function withSdmErrorCodes(ours: number[], qemu: number[]): number[] {
  const reports = qemu.slice();
  for (let i = 1; i < reports.length; i++) {
    const vector = reports[i - 1];
    const code = reports[i];
    if (ours[i - 1] !== vector) continue;
    if ((vector === 13 || vector === 11) && (code & 3) === 2 && ours[i] === ((code - 2) >> 1) + 2) reports[i] = ours[i];
    if (vector === 14 && (code & 9) === 8 && ours[i] === (code | 1)) reports[i] = ours[i];
  }
  return reports;
}

const QEMU = 'qemu-system-x86_64';
const qemuMissing = !qemuInstalled(QEMU);
if (qemuMissing) console.warn(`64-bit qemu differential tests skipped: ${QEMU} is not installed`);

const scratch = qemuScratch('rv-long-qemu-');
afterAll(scratch.cleanup);

function runUnderQemu(name: string): number[] {
  const image = new URL(`./guests/byte-reports/${name}.bin`, import.meta.url).pathname;
  return runImageUnderQemu(QEMU, scratch.dir, name, image, ['-cpu', 'qemu64,+pdpe1gb']);
}

describe('64-bit guests against QEMU', () => {
  for (const name of COMPARED) {
    it.skipIf(qemuMissing)(`${name}: the same reports as qemu-system-x86_64`, { timeout: 300_000 }, () => {
      const ours = runLongGuest(name, BUDGET[name] ?? 5_000_000, { byteReports: true });
      expect(ours.done).toBe(true);
      expect(hex(ours.reports)).toEqual(hex(withSdmErrorCodes(ours.reports, runUnderQemu(name))));
    });
  }
});
