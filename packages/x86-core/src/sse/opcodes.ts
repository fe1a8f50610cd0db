// Which two-byte opcodes (0F xx) are SSE/SSE2 here and which take an imm8 (SDM Vol. 2, Table A-3),
// shared by the executor and the length decoder of the 32-bit paths.

/** 1 for an 0F opcode the SSE module decodes (0F AE included: its SSE forms). */
export const SSE_OPCODE = new Uint8Array(256);
for (const op of [0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x28, 0x29, 0x2a, 0x2b, 0x2c, 0x2d, 0x2e, 0x2f,
  0xae, 0xc2, 0xc3, 0xc4, 0xc5, 0xc6, 0xd6, 0xd7, 0xe6, 0xe7, 0xf7]) SSE_OPCODE[op] = 1;
// Not 0F 77 (EMMS, MMX), 78-7D (VMREAD/VMWRITE, SSE3), F0 (LDDQU, SSE3).
for (let op = 0x50; op <= 0x7f; op++) if (op < 0x77 || op > 0x7d) SSE_OPCODE[op] = 1;
for (let op = 0xd1; op <= 0xfe; op++) if (op !== 0xf0) SSE_OPCODE[op] = 1;

/** 1 for those followed by an imm8 (RIP-relative operands count it). */
export const HAS_IMM = new Uint8Array(256);
for (const op of [0x70, 0x71, 0x72, 0x73, 0xc2, 0xc4, 0xc5, 0xc6]) HAS_IMM[op] = 1;
