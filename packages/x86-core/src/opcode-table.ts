/**
 * The instruction set as data: every opcode this CPU implements, with its operands in the notation
 * of the Intel SDM's opcode map (Vol. 2, Appendix A.2). The decoder derives instruction lengths from
 * the operand letters, and the tests derive their coverage from the table; the interpreter's switch
 * in `execute.ts` implements exactly these entries.
 *
 * Operand letters that take bytes: E/G/M/R/S/C/D/T (a ModRM byte), Ib/Jb (1), Iw (2), Iv/Iz/Jz
 * (operand size), Ob (address size: moffs), Ap (far pointer: operand size + 2).
 * Attributes: L = LOCK allowed (with a memory destination), P = privileged or mode-checked by the
 * system part, B = ends a straight-line block (branches, mode changes), M = ModRM must name memory.
 */
export interface OpcodeEntry {
  readonly mnemonic: string;
  readonly operands: string;
  readonly attributes: string;
}

const ONE_BYTE: Record<number, [string, string, string?]> = {};
const TWO_BYTE: Record<number, [string, string, string?]> = {};
/** Group opcodes: one entry per ModRM reg field; a missing entry is #UD. */
const GROUPS: Record<number, ([string, string, string?] | null)[]> = {};

function one(op: number, mnemonic: string, operands = '', attributes = ''): void {
  ONE_BYTE[op] = [mnemonic, operands, attributes];
}
function two(op: number, mnemonic: string, operands = '', attributes = ''): void {
  TWO_BYTE[op] = [mnemonic, operands, attributes];
}

const ALU = ['add', 'or', 'adc', 'sbb', 'and', 'sub', 'xor', 'cmp'];
ALU.forEach((name, i) => {
  const lock = name === 'cmp' ? '' : 'L';
  one(i * 8 + 0, name, 'Eb,Gb', lock);
  one(i * 8 + 1, name, 'Ev,Gv', lock);
  one(i * 8 + 2, name, 'Gb,Eb');
  one(i * 8 + 3, name, 'Gv,Ev');
  one(i * 8 + 4, name, 'AL,Ib');
  one(i * 8 + 5, name, 'eAX,Iz');
});
one(0x06, 'push', 'ES');
one(0x07, 'pop', 'ES', 'B');
one(0x0e, 'push', 'CS');
one(0x16, 'push', 'SS');
one(0x17, 'pop', 'SS', 'B');
one(0x1e, 'push', 'DS');
one(0x1f, 'pop', 'DS');
one(0x27, 'daa');
one(0x2f, 'das');
one(0x37, 'aaa');
one(0x3f, 'aas');
for (let r = 0; r < 8; r++) {
  one(0x40 + r, 'inc', 'Zv');
  one(0x48 + r, 'dec', 'Zv');
  one(0x50 + r, 'push', 'Zv');
  one(0x58 + r, 'pop', 'Zv');
  one(0x90 + r, r === 0 ? 'nop' : 'xchg', 'Zv,eAX');
  one(0xb0 + r, 'mov', 'Zb,Ib');
  one(0xb8 + r, 'mov', 'Zv,Iv');
}
one(0x60, 'pusha');
one(0x61, 'popa');
one(0x62, 'bound', 'Gv,Ma', 'M');
one(0x63, 'arpl', 'Ew,Gw', 'P');
one(0x68, 'push', 'Iz');
one(0x69, 'imul', 'Gv,Ev,Iz');
one(0x6a, 'push', 'Ib');
one(0x6b, 'imul', 'Gv,Ev,Ib');
one(0x6c, 'insb', 'Yb,DX', 'P');
one(0x6d, 'ins', 'Yz,DX', 'P');
one(0x6e, 'outsb', 'DX,Xb', 'P');
one(0x6f, 'outs', 'DX,Xz', 'P');
const CC = ['o', 'no', 'b', 'ae', 'e', 'ne', 'be', 'a', 's', 'ns', 'p', 'np', 'l', 'ge', 'le', 'g'];
CC.forEach((cc, i) => {
  one(0x70 + i, `j${cc}`, 'Jb', 'B');
  two(0x40 + i, `cmov${cc}`, 'Gv,Ev');
  two(0x80 + i, `j${cc}`, 'Jz', 'B');
  two(0x90 + i, `set${cc}`, 'Eb');
});
GROUPS[0x80] = ALU.map((n) => [n, 'Eb,Ib', n === 'cmp' ? '' : 'L']);
GROUPS[0x81] = ALU.map((n) => [n, 'Ev,Iz', n === 'cmp' ? '' : 'L']);
GROUPS[0x82] = ALU.map((n) => [n, 'Eb,Ib', n === 'cmp' ? '' : 'L']);
GROUPS[0x83] = ALU.map((n) => [n, 'Ev,Ib', n === 'cmp' ? '' : 'L']);
one(0x84, 'test', 'Eb,Gb');
one(0x85, 'test', 'Ev,Gv');
one(0x86, 'xchg', 'Eb,Gb', 'L');
one(0x87, 'xchg', 'Ev,Gv', 'L');
one(0x88, 'mov', 'Eb,Gb');
one(0x89, 'mov', 'Ev,Gv');
one(0x8a, 'mov', 'Gb,Eb');
one(0x8b, 'mov', 'Gv,Ev');
one(0x8c, 'mov', 'Ev,Sw');
one(0x8d, 'lea', 'Gv,M', 'M');
one(0x8e, 'mov', 'Sw,Ew', 'B');
GROUPS[0x8f] = [['pop', 'Ev']];
one(0x98, 'cbw');
one(0x99, 'cwd');
one(0x9a, 'call', 'Ap', 'B');
one(0x9b, 'wait');
one(0x9c, 'pushf', '', 'P');
one(0x9d, 'popf', '', 'PB');
one(0x9e, 'sahf');
one(0x9f, 'lahf');
one(0xa0, 'mov', 'AL,Ob');
one(0xa1, 'mov', 'eAX,Ov');
one(0xa2, 'mov', 'Ob,AL');
one(0xa3, 'mov', 'Ov,eAX');
one(0xa4, 'movsb', 'Yb,Xb');
one(0xa5, 'movs', 'Yv,Xv');
one(0xa6, 'cmpsb', 'Xb,Yb');
one(0xa7, 'cmps', 'Xv,Yv');
one(0xa8, 'test', 'AL,Ib');
one(0xa9, 'test', 'eAX,Iz');
one(0xaa, 'stosb', 'Yb,AL');
one(0xab, 'stos', 'Yv,eAX');
one(0xac, 'lodsb', 'AL,Xb');
one(0xad, 'lods', 'eAX,Xv');
one(0xae, 'scasb', 'AL,Yb');
one(0xaf, 'scas', 'eAX,Yv');
const SHIFTS: ([string, string, string?] | null)[] = ['rol', 'ror', 'rcl', 'rcr', 'shl', 'shr', 'sal', 'sar'].map((n) => [n, '']);
GROUPS[0xc0] = SHIFTS.map((e) => [e![0], 'Eb,Ib']);
GROUPS[0xc1] = SHIFTS.map((e) => [e![0], 'Ev,Ib']);
one(0xc2, 'ret', 'Iw', 'B');
one(0xc3, 'ret', '', 'B');
one(0xc4, 'les', 'Gz,Mp', 'M');
one(0xc5, 'lds', 'Gz,Mp', 'M');
GROUPS[0xc6] = [['mov', 'Eb,Ib']];
GROUPS[0xc7] = [['mov', 'Ev,Iz']];
one(0xc8, 'enter', 'Iw,Ib');
one(0xc9, 'leave');
one(0xca, 'retf', 'Iw', 'PB');
one(0xcb, 'retf', '', 'PB');
one(0xcc, 'int3', '', 'PB');
one(0xcd, 'int', 'Ib', 'PB');
one(0xce, 'into', '', 'PB');
one(0xcf, 'iret', '', 'PB');
GROUPS[0xd0] = SHIFTS.map((e) => [e![0], 'Eb,1']);
GROUPS[0xd1] = SHIFTS.map((e) => [e![0], 'Ev,1']);
GROUPS[0xd2] = SHIFTS.map((e) => [e![0], 'Eb,CL']);
GROUPS[0xd3] = SHIFTS.map((e) => [e![0], 'Ev,CL']);
one(0xd4, 'aam', 'Ib');
one(0xd5, 'aad', 'Ib');
one(0xd6, 'salc');
one(0xd7, 'xlat');
// x87 escapes: decoded here for their ModRM; the FPU (src/fpu) executes them.
for (let op = 0xd8; op <= 0xdf; op++) one(op, 'esc', 'E');
one(0xe0, 'loopne', 'Jb', 'B');
one(0xe1, 'loope', 'Jb', 'B');
one(0xe2, 'loop', 'Jb', 'B');
one(0xe3, 'jcxz', 'Jb', 'B');
one(0xe4, 'in', 'AL,Ib', 'P');
one(0xe5, 'in', 'eAX,Ib', 'P');
one(0xe6, 'out', 'Ib,AL', 'P');
one(0xe7, 'out', 'Ib,eAX', 'P');
one(0xe8, 'call', 'Jz', 'B');
one(0xe9, 'jmp', 'Jz', 'B');
one(0xea, 'jmp', 'Ap', 'B');
one(0xeb, 'jmp', 'Jb', 'B');
one(0xec, 'in', 'AL,DX', 'P');
one(0xed, 'in', 'eAX,DX', 'P');
one(0xee, 'out', 'DX,AL', 'P');
one(0xef, 'out', 'DX,eAX', 'P');
one(0xf1, 'int1', '', 'B');
one(0xf4, 'hlt', '', 'PB');
one(0xf5, 'cmc');
GROUPS[0xf6] = [['test', 'Eb,Ib'], ['test', 'Eb,Ib'], ['not', 'Eb', 'L'], ['neg', 'Eb', 'L'], ['mul', 'Eb'], ['imul', 'Eb'], ['div', 'Eb'], ['idiv', 'Eb']];
GROUPS[0xf7] = [['test', 'Ev,Iz'], ['test', 'Ev,Iz'], ['not', 'Ev', 'L'], ['neg', 'Ev', 'L'], ['mul', 'Ev'], ['imul', 'Ev'], ['div', 'Ev'], ['idiv', 'Ev']];
one(0xf8, 'clc');
one(0xf9, 'stc');
one(0xfa, 'cli', '', 'P');
one(0xfb, 'sti', '', 'P');
one(0xfc, 'cld');
one(0xfd, 'std');
GROUPS[0xfe] = [['inc', 'Eb', 'L'], ['dec', 'Eb', 'L']];
GROUPS[0xff] = [['inc', 'Ev', 'L'], ['dec', 'Ev', 'L'], ['call', 'Ev', 'B'], ['callf', 'Mp', 'MB'], ['jmp', 'Ev', 'B'], ['jmpf', 'Mp', 'MB'], ['push', 'Ev']];

// Two-byte opcodes (0F xx).
GROUPS[0x100] = [['sldt', 'Ew', 'P'], ['str', 'Ew', 'P'], ['lldt', 'Ew', 'P'], ['ltr', 'Ew', 'P'], ['verr', 'Ew', 'P'], ['verw', 'Ew', 'P']];
GROUPS[0x101] = [['sgdt', 'Ms', 'MP'], ['sidt', 'Ms', 'MP'], ['lgdt', 'Ms', 'MP'], ['lidt', 'Ms', 'MP'], ['smsw', 'Ew', 'P'], null, ['lmsw', 'Ew', 'PB'], ['invlpg', 'Mb', 'MP']];
two(0x02, 'lar', 'Gv,Ew', 'P');
two(0x03, 'lsl', 'Gv,Ew', 'P');
two(0x06, 'clts', '', 'P');
two(0x08, 'invd', '', 'P');
two(0x09, 'wbinvd', '', 'P');
two(0x0b, 'ud2', '', 'B');
// 0F 18-1F: hint NOPs on P6 (0F 1F /0 is the documented multi-byte NOP).
for (let op = 0x18; op <= 0x1f; op++) two(op, 'nop', 'Ev');
two(0x20, 'mov', 'Rd,Cd', 'P');
two(0x21, 'mov', 'Rd,Dd', 'P');
two(0x22, 'mov', 'Cd,Rd', 'PB');
two(0x23, 'mov', 'Dd,Rd', 'P');
two(0x30, 'wrmsr', '', 'P');
two(0x31, 'rdtsc', '', 'P');
two(0x32, 'rdmsr', '', 'P');
two(0x34, 'sysenter', '', 'PB');
two(0x35, 'sysexit', '', 'PB');
two(0xa0, 'push', 'FS');
two(0xa1, 'pop', 'FS');
two(0xa2, 'cpuid');
two(0xa3, 'bt', 'Ev,Gv');
two(0xa4, 'shld', 'Ev,Gv,Ib');
two(0xa5, 'shld', 'Ev,Gv,CL');
two(0xa8, 'push', 'GS');
two(0xa9, 'pop', 'GS');
two(0xab, 'bts', 'Ev,Gv', 'L');
two(0xac, 'shrd', 'Ev,Gv,Ib');
two(0xad, 'shrd', 'Ev,Gv,CL');
// 0F AE (group 15): FXSAVE and FXRSTOR only; its other forms need SSE, SSE2, CLFSH or XSAVE (#UD here).
GROUPS[0x1ae] = [['fxsave', 'M', 'M'], ['fxrstor', 'M', 'M']];
two(0xaf, 'imul', 'Gv,Ev');
two(0xb0, 'cmpxchg', 'Eb,Gb', 'L');
two(0xb1, 'cmpxchg', 'Ev,Gv', 'L');
two(0xb2, 'lss', 'Gz,Mp', 'MB');
two(0xb3, 'btr', 'Ev,Gv', 'L');
two(0xb4, 'lfs', 'Gz,Mp', 'M');
two(0xb5, 'lgs', 'Gz,Mp', 'M');
two(0xb6, 'movzx', 'Gv,Eb');
two(0xb7, 'movzx', 'Gv,Ew');
GROUPS[0x1ba] = [null, null, null, null, ['bt', 'Ev,Ib'], ['bts', 'Ev,Ib', 'L'], ['btr', 'Ev,Ib', 'L'], ['btc', 'Ev,Ib', 'L']];
two(0xbb, 'btc', 'Ev,Gv', 'L');
two(0xbc, 'bsf', 'Gv,Ev');
two(0xbd, 'bsr', 'Gv,Ev');
two(0xbe, 'movsx', 'Gv,Eb');
two(0xbf, 'movsx', 'Gv,Ew');
two(0xc0, 'xadd', 'Eb,Gb', 'L');
two(0xc1, 'xadd', 'Ev,Gv', 'L');
GROUPS[0x1c7] = [null, ['cmpxchg8b', 'Mq', 'ML']];
for (let r = 0; r < 8; r++) two(0xc8 + r, 'bswap', 'Zd');

/** Entries by opcode: 0x00-0xff one-byte, 0x100-0x1ff for 0F xx. Groups hold eight entries each. */
export const OPCODES: readonly (OpcodeEntry | null)[] = Array.from({ length: 0x200 }, (_, op) => {
  const e = op < 0x100 ? ONE_BYTE[op] : TWO_BYTE[op & 0xff];
  return e ? { mnemonic: e[0], operands: e[1], attributes: e[2] ?? '' } : null;
});

export const OPCODE_GROUPS: ReadonlyMap<number, readonly (OpcodeEntry | null)[]> = new Map(
  Object.entries(GROUPS).map(([op, entries]) => [
    Number(op),
    Array.from({ length: 8 }, (_, r) => {
      const e = entries[r];
      return e ? { mnemonic: e[0], operands: e[1], attributes: e[2] ?? '' } : null;
    }),
  ]),
);

/** Prefix bytes: operand size, address size, LOCK, REPNE, REP, and the six segment overrides. */
export const PREFIXES: readonly number[] = [0x66, 0x67, 0xf0, 0xf2, 0xf3, 0x26, 0x2e, 0x36, 0x3e, 0x64, 0x65];

/** The entry for an opcode and ModRM reg field (null: #UD). */
export function lookup(opcode: number, reg: number): OpcodeEntry | null {
  const group = OPCODE_GROUPS.get(opcode);
  if (group) return group[reg];
  return OPCODES[opcode];
}
