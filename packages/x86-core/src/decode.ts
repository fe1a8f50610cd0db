import { OPCODES, OPCODE_GROUPS, PREFIXES, type OpcodeEntry } from './opcode-table.js';
import { HAS_IMM as SSE_IMM, SSE_OPCODE } from './sse/opcodes.js';

/** The longest legal instruction; a longer one raises #GP (SDM Vol. 2, 2.3.11). */
export const MAX_INSTRUCTION_LENGTH = 15;

// Byte counts derived from the operand letters, per (opcode << 3 | reg): a fixed part, a part that
// scales with the operand size (Iv, Iz, Jz, Ap) and one with the address size (Ob, Ov).
const HAS_MODRM = new Uint8Array(0x200);
const IMM_FIXED = new Uint8Array(0x1000);
const IMM_OPSIZE = new Uint8Array(0x1000);
const IMM_ADDRSIZE = new Uint8Array(0x1000);
const VALID = new Uint8Array(0x1000);
/** Entries whose ModRM must name memory ('M' attribute): #UD with mod = 3. */
const MEMORY_ONLY = new Uint8Array(0x1000);
/** Opcodes whose ModRM always names a register, whatever its mod bits (MOV CRn/DRn: 'R' operands). */
const REGISTER_ONLY = new Uint8Array(0x200);
const IS_PREFIX = new Uint8Array(0x100);
for (const p of PREFIXES) IS_PREFIX[p] = 1;

function operandBytes(operand: string): [number, number, number] {
  if (operand === 'Ap') return [2, 1, 0];
  switch (operand) {
    case 'Ib':
    case 'Jb':
      return [1, 0, 0];
    case 'Iw':
      return [2, 0, 0];
    case 'Iv':
    case 'Iz':
    case 'Jz':
      return [0, 1, 0];
    case 'Ob':
    case 'Ov':
      return [0, 0, 1];
    default:
      return [0, 0, 0];
  }
}

/** True when the operand is encoded in a ModRM byte. */
function usesModrm(operand: string): boolean {
  return /^[EGMRSCDT][a-z]?$/.test(operand);
}

function record(index: number, e: OpcodeEntry): void {
  VALID[index] = 1;
  if (e.attributes.includes('M')) MEMORY_ONLY[index] = 1;
  for (const operand of e.operands ? e.operands.split(',') : []) {
    const [fixed, op, addr] = operandBytes(operand);
    IMM_FIXED[index] += fixed;
    IMM_OPSIZE[index] += op;
    IMM_ADDRSIZE[index] += addr;
  }
}

for (let op = 0; op < 0x200; op++) {
  const group = OPCODE_GROUPS.get(op);
  const entries = group ?? Array.from({ length: 8 }, () => OPCODES[op]);
  for (let reg = 0; reg < 8; reg++) {
    const e = entries[reg];
    if (!e) continue;
    if (group || e.operands.split(',').some(usesModrm)) HAS_MODRM[op] = 1;
    if (e.operands.split(',').some((o) => o.startsWith('R'))) REGISTER_ONLY[op] = 1;
    record((op << 3) | reg, e);
  }
}

/** True when `opcode` (0x00-0xff, or 0x100 | second byte for 0F xx) takes a ModRM byte. */
export function hasModrm(opcode: number): boolean {
  return HAS_MODRM[opcode] === 1;
}

/**
 * Length of the instruction whose bytes `byteAt(0..)` returns, decoded in 16- or 32-bit code; -1 when
 * this CPU raises #UD for it (an opcode it does not implement) or it exceeds 15 bytes. Mode and
 * privilege checks (#GP) are not length questions and are not made here.
 */
export function decodeLength(byteAt: (i: number) => number, code32: boolean, sse = false): number {
  const length = measureInstruction(byteAt, code32, MAX_INSTRUCTION_LENGTH, sse);
  return length > MAX_INSTRUCTION_LENGTH ? -1 : length;
}

/**
 * Length of the instruction, or -1 when it is invalid; any length above `limit` may be reported as
 * `limit` + 1 (prefixes are read no further than that, so a run of prefixes never reads on). With
 * `sse` (a CPU model with SSE) the SSE/SSE2 opcodes count too: ModRM and an imm8 where they take one.
 */
export function measureInstruction(byteAt: (i: number) => number, code32: boolean, limit: number, sse = false): number {
  let i = 0;
  let op32 = code32;
  let addr32 = code32;
  let b = byteAt(i++);
  while (IS_PREFIX[b]) {
    if (b === 0x66) op32 = !code32;
    else if (b === 0x67) addr32 = !code32;
    if (i >= limit) return limit + 1;
    b = byteAt(i++);
  }
  let opcode = b;
  if (b === 0x0f) opcode = 0x100 | byteAt(i++);
  let reg = 0;
  let mod = 3;
  const sseOp = sse && opcode >= 0x100 && SSE_OPCODE[opcode & 0xff] === 1;
  if (HAS_MODRM[opcode] || sseOp) {
    const modrm = byteAt(i++);
    reg = (modrm >> 3) & 7;
    mod = REGISTER_ONLY[opcode] ? 3 : modrm >> 6;
    const rm = modrm & 7;
    if (mod !== 3) {
      if (addr32) {
        if (rm === 4) {
          const sib = byteAt(i++);
          if (mod === 0 && (sib & 7) === 5) i += 4;
        } else if (mod === 0 && rm === 5) i += 4;
        if (mod === 1) i += 1;
        else if (mod === 2) i += 4;
      } else {
        if (mod === 0 && rm === 6) i += 2;
        else if (mod === 1) i += 1;
        else if (mod === 2) i += 2;
      }
    }
  }
  if (sseOp) return i + SSE_IMM[opcode & 0xff];
  const index = (opcode << 3) | reg;
  if (!VALID[index] || (mod === 3 && MEMORY_ONLY[index])) return -1;
  return i + IMM_FIXED[index] + IMM_OPSIZE[index] * (op32 ? 4 : 2) + IMM_ADDRSIZE[index] * (addr32 ? 4 : 2);
}

/** True when this CPU implements `opcode` with ModRM reg field `reg` (0 when it has no ModRM). */
export function isImplemented(opcode: number, reg: number): boolean {
  return VALID[(opcode << 3) | reg] === 1;
}

/** The memory-reading part of the CPU `instructionLength` needs. */
interface CodeReader {
  code32: boolean;
  readonly traits: { readonly sse: boolean };
  startEip: number;
  ipMask: number;
  segBase: Int32Array;
  readLinear8(linear: number): number;
}

/**
 * Length of the instruction at CS:startEip, for intercept exits (`skipInstruction`). 0 when its
 * bytes cannot be read or it is invalid: the VMM then has nothing to skip.
 */
export function instructionLength(cpu: CodeReader): number {
  try {
    const len = decodeLength(
      (i) => cpu.readLinear8((cpu.segBase[1] + ((cpu.startEip + i) & cpu.ipMask)) | 0),
      cpu.code32,
      cpu.traits.sse,
    );
    return len < 0 ? 0 : len;
  } catch {
    return 0;
  }
}
