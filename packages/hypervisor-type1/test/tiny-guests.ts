// Guests of a few bytes for the lifecycle tests, loaded at 1 MiB in flat protected mode.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Asks the i8042 for a CPU reset (0xFE to port 0x64), then halts: the guest's reboot. */
export const RESET = Uint8Array.of(0xb0, 0xfe, 0xe6, 0x64, 0xf4, 0xeb, 0xfd);
/** Loads an empty IDT (at 0x100010) and executes INT3: #GP, #DF, triple fault. */
export const TRIPLE_FAULT = Uint8Array.of(0x0f, 0x01, 0x1d, 0x10, 0x00, 0x10, 0x00, 0xcc, ...new Array<number>(14).fill(0));

/** Writes `bytes` to `dir/name` and returns the domain boot entry that loads it at 1 MiB. */
export function flatBoot(dir: string, name: string, bytes: Uint8Array): { flat: string; address: number } {
  const file = join(dir, name);
  writeFileSync(file, bytes);
  return { flat: file, address: 0x100000 };
}
