// Decoding for the 64-bit block compiler (block-compiler64.ts): one instruction from a page of code
// bytes into a record of its fields, or null when it is not one the compiler emits (the block then
// ends before it and the interpreter, step64, runs it). Only forms whose decode cannot fault are
// accepted, so a compiled instruction faults only as it executes.

/** One decoded instruction. Registers are 0-15 (REX applied), -1 for none. */
export interface Insn64 {
  /** The opcode, 0x100 | second byte after 0F. */
  op: number;
  /** Bytes, prefixes included. */
  length: number;
  /** Operand size: 0 byte, 1 word, 2 dword, 3 qword. */
  size: number;
  rex: number;
  /** FS (4) or GS (5) override, else -1. */
  seg: number;
  addr32: boolean;
  /** ModRM.reg with REX.R (or the register of an opcode+register form). */
  reg: number;
  /** ModRM.reg without REX (the /digit of group opcodes). */
  ext: number;
  /** The register r/m operand, or -1 for a memory operand (or none). */
  rm: number;
  /** True when the instruction has a memory operand. */
  mem: boolean;
  base: number;
  index: number;
  scale: number;
  disp: number;
  ripRelative: boolean;
  /** Immediate (sign-extended where the instruction says so) as low and high dwords. */
  imm: number;
  immHi: number;
}

/** Opcodes that take a ModRM byte among those compiled. */
function hasModrm(op: number): boolean {
  if (op >= 0x100) {
    const o = op & 0xff;
    return o === 0x1f || (o >= 0x40 && o <= 0x4f) || (o >= 0x90 && o <= 0x9f) || o === 0xaf || o === 0xb6 || o === 0xb7 ||
      o === 0xbe || o === 0xbf;
  }
  if (op < 0x40) return (op & 7) < 4;
  return op === 0x63 || op === 0x69 || op === 0x6b || (op >= 0x80 && op <= 0x8b && op !== 0x82) || op === 0x8d ||
    op === 0xc0 || op === 0xc1 || op === 0xc6 || op === 0xc7 || (op >= 0xd0 && op <= 0xd3) || op === 0xf6 || op === 0xf7 ||
    op === 0xfe || op === 0xff;
}

/** Whether a one-byte opcode (or 0x100 | a 0F one) is among those compiled at all. */
function compiled(op: number): boolean {
  if (op >= 0x100) return hasModrm(op) || (op >= 0x180 && op <= 0x18f);
  if (op < 0x40) return (op & 7) < 6;
  return hasModrm(op) || (op >= 0x50 && op <= 0x5f) || op === 0x68 || op === 0x6a || (op >= 0x70 && op <= 0x7f) ||
    (op >= 0x90 && op <= 0x99) || op === 0xa8 || op === 0xa9 || (op >= 0xb0 && op <= 0xbf) || op === 0xc2 || op === 0xc3 ||
    op === 0xc9 || op === 0xe8 || op === 0xe9 || op === 0xeb;
}

/** Stack and branch opcodes, where an operand-size prefix changes more than the operand: left to step64. */
function sizeSensitive(op: number, ext: number): boolean {
  return (op >= 0x50 && op <= 0x5f) || op === 0x68 || op === 0x6a || (op >= 0x70 && op <= 0x7f) || op === 0xc2 ||
    op === 0xc3 || op === 0xc9 || op === 0xe8 || op === 0xe9 || op === 0xeb || (op >= 0x180 && op <= 0x18f) ||
    (op === 0xff && ext >= 2);
}

/** Bytes of immediate after the ModRM operand (or after the opcode). */
function immediateBytes(op: number, size: number, ext: number): number {
  const v = size === 1 ? 2 : 4;
  switch (op) {
    case 0x04: case 0x0c: case 0x14: case 0x1c: case 0x24: case 0x2c: case 0x34: case 0x3c:
    case 0x6a: case 0x6b: case 0x80: case 0x83: case 0xa8: case 0xc0: case 0xc1: case 0xc6: case 0xeb:
      return 1;
    case 0x05: case 0x0d: case 0x15: case 0x1d: case 0x25: case 0x2d: case 0x35: case 0x3d:
    case 0x69: case 0x81: case 0xa9: case 0xc7:
      return v;
    case 0x68: case 0xe8: case 0xe9:
      return 4;
    case 0xc2:
      return 2;
    case 0xf6: return ext < 2 ? 1 : 0;
    case 0xf7: return ext < 2 ? v : 0;
    default:
      if (op >= 0x70 && op <= 0x7f) return 1;
      if (op >= 0x180 && op <= 0x18f) return 4;
      if (op >= 0xb0 && op <= 0xb7) return 1;
      if (op >= 0xb8 && op <= 0xbf) return size === 3 ? 8 : v;
      return 0;
  }
}

/** ModRM forms the interpreter rejects (#UD) or runs differently: left to it. */
function invalidForm(op: number, ext: number, mod3: boolean): boolean {
  switch (op) {
    case 0x8d: return mod3; // LEA of a register: #UD
    case 0xc6: case 0xc7: return ext !== 0;
    case 0xfe: return ext > 1;
    // Far CALL/JMP, and /7: not compiled (the first are #UD with a register, the last always).
    case 0xff: return ext === 3 || ext === 5 || ext === 7;
    default: return false;
  }
}

const LEGACY = new Set([0x26, 0x2e, 0x36, 0x3e, 0x64, 0x65, 0x66, 0x67]);

/**
 * Decodes the instruction at `at` of `code` (bytes up to `end`), or null when it is not compiled,
 * does not fit before `end`, or carries LOCK, REP/REPNE or more prefixes than 4.
 */
export function decode64(code: Uint8Array, at: number, end: number): Insn64 | null {
  let p = at;
  // Past `end` it reads 0 and still advances: the length check at the end rejects the instruction.
  const byte = (): number => (p < end ? code[p++] : (p++, 0));
  let rex = 0;
  let seg = -1;
  let opsize16 = false;
  let addr32 = false;
  let prefixes = 0;
  let op = byte();
  for (;;) {
    if (op >= 0x40 && op <= 0x4f) {
      rex = op;
    } else if (LEGACY.has(op)) {
      rex = 0; // a legacy prefix after REX makes the REX ignored
      if (op === 0x64 || op === 0x65) seg = op - 0x60;
      else if (op === 0x66) opsize16 = true;
      else if (op === 0x67) addr32 = true;
    } else break;
    if (++prefixes > 4) return null;
    op = byte();
  }
  if (op === 0x0f) op = 0x100 | byte();
  if (!compiled(op)) return null;
  const size = rex & 8 ? 3 : opsize16 ? 1 : 2;
  const i: Insn64 = {
    op, length: 0, size, rex, seg, addr32, reg: -1, ext: 0, rm: -1, mem: false, base: -1, index: -1, scale: 0, disp: 0,
    ripRelative: false, imm: 0, immHi: 0,
  };
  if (hasModrm(op)) {
    const m = byte();
    const mod = m >> 6;
    const rm = m & 7;
    i.ext = (m >> 3) & 7;
    i.reg = i.ext | ((rex & 4) << 1);
    if (invalidForm(op, i.ext, mod === 3)) return null;
    if (mod === 3) i.rm = rm | ((rex & 1) << 3);
    else {
      i.mem = true;
      if (rm === 4) {
        const sib = byte();
        const baseField = sib & 7;
        const index = ((sib >> 3) & 7) | ((rex & 2) << 2);
        i.index = index === 4 ? -1 : index;
        i.scale = sib >> 6;
        if (baseField === 5 && mod === 0) {
          i.disp = dword(code, p, end);
          p += 4;
        } else i.base = baseField | ((rex & 1) << 3);
      } else if (rm === 5 && mod === 0) {
        i.disp = dword(code, p, end);
        p += 4;
        i.ripRelative = true;
      } else i.base = rm | ((rex & 1) << 3);
      if (mod === 1) i.disp = (byte() << 24) >> 24;
      else if (mod === 2) {
        i.disp = dword(code, p, end);
        p += 4;
      }
    }
  } else if ((op >= 0x50 && op <= 0x5f) || (op >= 0x90 && op <= 0x97) || (op >= 0xb0 && op <= 0xbf)) {
    i.reg = (op & 7) | ((rex & 1) << 3);
  }
  if (opsize16 && sizeSensitive(op, i.ext)) return null;
  const bytes = immediateBytes(op, size, i.ext);
  if (p + bytes > end) return null;
  if (bytes === 1) {
    i.imm = (code[p] << 24) >> 24;
    i.immHi = i.imm >> 31;
  } else if (bytes === 2) i.imm = code[p] | (code[p + 1] << 8);
  else if (bytes >= 4) {
    i.imm = dword(code, p, end);
    i.immHi = bytes === 8 ? dword(code, p + 4, end) : i.imm >> 31;
  }
  p += bytes;
  if (p > end || p - at > 15) return null;
  i.length = p - at;
  return i;
}

/** A little-endian dword (0 past `end`: the caller's length check then rejects the instruction). */
function dword(code: Uint8Array, p: number, end: number): number {
  if (p + 4 > end) return 0;
  return code[p] | (code[p + 1] << 8) | (code[p + 2] << 16) | (code[p + 3] << 24);
}
