import type { CpuModel } from '../model.js';
import type { SstCase } from './sst286.js';

/**
 * The one list of deliberate differences between the 80286 the SingleStepTests vectors were
 * recorded on and the i686 this core models. Every SST mismatch that is not a bug falls under one
 * of these rules; `test/sst286-differences.test.ts` proves that the core does what the i686 does in
 * each case, and for each difference the '80286' model reproduces, that it does what the 286 does.
 * (Undefined flags are not differences: `undefinedFlags` in sst286.ts masks them.)
 */
export interface Sst286Difference {
  readonly id: string;
  /** What the 286 does, what the i686 does, and where the i686 behaviour is documented. */
  readonly description: string;
  /**
   * The CPU models on which the difference remains: always 'i686'; '80286' too when that model
   * does not reproduce the 286 behaviour (then it can explain a mismatch of the 80286 model).
   */
  readonly remainsOn: readonly CpuModel[];
  /** True when this rule explains the mismatches of `c`; `vector` is the exception this core raised (-1: none). */
  readonly matches: (c: SstCase, mismatches: readonly string[], vector: number) => boolean;
}

const PREFIX = new Set([0x26, 0x2e, 0x36, 0x3e, 0xf0, 0xf2, 0xf3]);

function opcodeIndex(c: SstCase): number {
  let i = 0;
  while (PREFIX.has(c.bytes[i])) i++;
  return i;
}

/** Instruction length without the trailing HLT. */
function instructionLength(c: SstCase): number {
  return c.bytes.length - 1;
}

const STRING_OPS = new Set([0x6c, 0x6d, 0x6e, 0x6f, 0xa4, 0xa5, 0xa6, 0xa7, 0xaa, 0xab, 0xac, 0xad, 0xae, 0xaf]);

export const SST286_DIFFERENCES: readonly Sst286Difference[] = [
  {
    id: 'lock-undefined-opcode',
    description:
      'LOCK on an instruction that is not a read-modify-write of memory: the 286 executes it; the i686 ' +
      'raises #UD (SDM Vol. 2 "LOCK": "#UD if the LOCK prefix is used with an instruction not listed" or ' +
      'with a register destination).',
    remainsOn: ['i686'],
    matches: (c, _m, vector) => c.bytes.slice(0, opcodeIndex(c)).includes(0xf0) && vector === 6,
  },
  {
    id: 'real-mode-stack-fault',
    description:
      'A real-mode access through SS beyond the 64 KiB limit (e.g. a word at SS:FFFF, POP with SP=FFFF): ' +
      'the 286 raises interrupt 13; the i686 raises #SS, vector 12 (SDM Vol. 2, "Real-Address Mode ' +
      'Exceptions": "#SS If a memory operand effective address is outside the SS segment limit").',
    remainsOn: ['i686'],
    matches: (c, _m, vector) => c.exception?.number === 13 && vector === 12,
  },
  {
    id: 'instruction-length-limit',
    description:
      'An instruction longer than 10 bytes (redundant prefixes): the 286 raises #GP (interrupt 13); ' +
      'the i686 accepts up to 15 bytes (SDM Vol. 2, 2.3.11 "Instruction Length").',
    remainsOn: ['i686'],
    matches: (c, _m, vector) => c.exception?.number === 13 && instructionLength(c) > 10 && vector !== 13,
  },
  {
    id: 'segment-registers-fs-gs',
    description:
      'MOV to or from segment register 4 or 5: the 286 has four segment registers and raises #UD; the ' +
      'i686 has FS and GS there (SDM Vol. 2 "MOV", Sreg encodings: 4 = FS, 5 = GS).',
    remainsOn: ['i686'],
    matches: (c, _m, vector) => {
      const i = opcodeIndex(c);
      const reg = (c.bytes[i + 1] >> 3) & 7;
      return (c.bytes[i] === 0x8c || c.bytes[i] === 0x8e) && (reg === 4 || reg === 5) && vector !== 6;
    },
  },
  {
    id: 'real-mode-flags-12-15',
    description:
      'POPF and IRET in real mode: the 286 forces FLAGS bits 12-15 (IOPL, NT) to 0; the i686 loads IOPL ' +
      'and NT from the popped image (SDM Vol. 2 "POPF": in real-address mode all non-reserved flags can ' +
      'be modified; "IRET" real-address-mode operation loads EFLAGS from the stack).',
    remainsOn: ['i686'],
    matches: (c, mismatches) => {
      const op = c.bytes[opcodeIndex(c)];
      return (op === 0x9d || op === 0xcf) && mismatches.every((m) => m.startsWith('flags'));
    },
  },
  {
    id: 'string-fault-index-update',
    description:
      'A string instruction whose access faults (offset FFFF of a word): the 286 has already stepped ' +
      'SI/DI (and CX under REP) when the exception is taken; the i686 reports the fault before the instruction changes ' +
      'any register (SDM Vol. 3A, 6.5 "faults": the saved state is the one before the instruction). ' +
      'The 80286 model follows the vectors: each access steps its SI or DI as it is made (CMPS reads ' +
      'ES:[DI] first), and under REP CX counts the iteration before its first access (SCAS included), ' +
      'after the compare for CMPS, and once more for a faulting write that is not the last (strings.ts).',
    remainsOn: ['i686'],
    matches: (c, mismatches, vector) => {
      const op = c.bytes[opcodeIndex(c)];
      return STRING_OPS.has(op) && c.exception !== undefined && vector === c.exception.number &&
        mismatches.every((m) => m.startsWith('si ') || m.startsWith('di ') || m.startsWith('cx '));
    },
  },
  {
    id: 'pop-memory-fault-sp',
    description:
      'POP to a memory operand whose write faults (a word at offset FFFF): the 286 has already moved SP ' +
      'past the popped word when it pushes the fault frame; the i686 reports the fault with SP as ' +
      'before the instruction (SDM Vol. 3A, 6.5 "faults").',
    remainsOn: ['i686'],
    matches: (c, mismatches, vector) => c.bytes[opcodeIndex(c)] === 0x8f && c.exception !== undefined &&
      vector === c.exception.number && mismatches.every((m) => m.startsWith('sp ') || m.startsWith('[')),
  },
];

/** The differences that remain on `model`. */
export function differencesOn(model: CpuModel): Sst286Difference[] {
  return SST286_DIFFERENCES.filter((d) => d.remainsOn.includes(model));
}

/** The difference remaining on `model` that explains a failing case, if one does. */
export function differenceFor(
  c: SstCase, mismatches: readonly string[], vector: number, model: CpuModel,
): Sst286Difference | undefined {
  return differencesOn(model).find((d) => d.matches(c, mismatches, vector));
}
