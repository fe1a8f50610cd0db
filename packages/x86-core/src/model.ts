/**
 * The CPU a `Cpu` behaves as (`CpuOptions.model`), the way QEMU's or 86Box's CPU setting picks one.
 * 'i686' is the product: every mode, 32-bit code, CPUID family 6. '80286' is that same i686 core with
 * the real-mode behaviours in which an 80286 differs from it where the SingleStepTests 80286 vectors
 * exercise them (see `conformance/sst286-differences.ts`): it is not a full 286 (32-bit operands,
 * FS/GS prefixes, CPUID, paging and the rest of the i686 stay available).
 */
export type CpuModel = 'i686' | '80286' | 'x86-64';

/**
 * The model's answers, fixed when the CPU is built and read where each behaviour lives (the decoder,
 * fault delivery, POPF/IRET, the string instructions), never by the run loop or compiled blocks.
 */
export interface ModelTraits {
  /** Highest segment register MOV to or from Sreg accepts; a higher one raises #UD. */
  readonly lastSegmentRegister: number;
  /** ANDed into the FLAGS image a real-mode POPF or IRET loads. */
  readonly realModeFlagsMask: number;
  /** The longest instruction; a longer one raises #GP(0). */
  readonly maxInstructionLength: number;
  /** Prefixes after which the full decoder measures the whole instruction against that limit. */
  readonly prefixesBeforeLengthCheck: number;
  /** LOCK is accepted before any instruction (the i686 raises #UD unless it is a locked read-modify-write). */
  readonly lockAnyInstruction: boolean;
  /** A real-mode stack-segment limit violation raises interrupt 13 instead of #SS (12). */
  readonly realModeStackFaultIsGp: boolean;
  /** String instructions step SI/DI (and count CX) as each access is made, so a faulting access has stepped its index. */
  readonly stringStepsBeforeAccess: boolean;
  /** POP to memory has moved SP when its write faults, so the fault frame is pushed above the popped word. */
  readonly popMemoryMovesSpBeforeWrite: boolean;
  /**
   * IA-32e mode (src/long/): EFER and the long-mode MSRs, CPUID's extended leaves with LM, NX,
   * SYSCALL, 1 GiB pages, RDTSCP and LAHF/SAHF, and the 64-bit interpreter. Off on the i686, whose
   * CPUID and MSRs stay exactly as they were.
   */
  readonly longMode: boolean;
  /**
   * SSE and SSE2 (src/sse/): XMM registers, MXCSR, CPUID's SSE/SSE2 bits, CR4.OSXMMEXCPT, the 0F AE
   * forms beyond FXSAVE/FXRSTOR. Off on the i686, whose CPUID and FXSAVE image stay as they were.
   */
  readonly sse: boolean;
}

export const MODEL_TRAITS: Readonly<Record<CpuModel, ModelTraits>> = {
  i686: {
    lastSegmentRegister: 5, // GS (SDM Vol. 2 "MOV": Sreg 6 and 7 are reserved)
    realModeFlagsMask: ~0, // real mode loads IOPL and NT (SDM Vol. 2 "POPF", "IRET")
    maxInstructionLength: 15, // SDM Vol. 2, 2.3.11
    // The longest unprefixed instruction is 11 bytes (81 /0 with SIB, disp32, imm32): from the 5th
    // prefix on, the whole instruction may exceed 15.
    prefixesBeforeLengthCheck: 5,
    lockAnyInstruction: false,
    realModeStackFaultIsGp: false,
    stringStepsBeforeAccess: false,
    popMemoryMovesSpBeforeWrite: false, // a fault reports the state before the instruction (SDM Vol. 3A 6.5)
    longMode: false,
    sse: false,
  },
  '80286': {
    lastSegmentRegister: 3, // ES CS SS DS: the 286 has no FS or GS
    realModeFlagsMask: ~0xf000, // 80286 data sheet, real-mode note: "The IOPL and NT fields will remain 0"
    // Longer raises interrupt 13 before any effect (the SST vectors; their README: "the maximum of 10 bytes").
    maxInstructionLength: 10,
    // Any prefix: 16-bit code has no unprefixed instruction over 6 bytes, prefixed ones may exceed 10.
    prefixesBeforeLengthCheck: 1,
    lockAnyInstruction: true,
    // 80286 data sheet: in real mode a word at offset FFFFH is "segment overrun exception (13)", SS included;
    // the stack exception (12) is protected-mode only.
    realModeStackFaultIsGp: true,
    stringStepsBeforeAccess: true,
    // The 286 pops (SP += 2) and then stores: a faulting store (a word at offset FFFF) finds SP moved.
    popMemoryMovesSpBeforeWrite: true,
    longMode: false,
    sse: false,
  },
  // The i686 core with IA-32e mode, SSE and SSE2.
  'x86-64': {
    lastSegmentRegister: 5,
    realModeFlagsMask: ~0,
    maxInstructionLength: 15,
    prefixesBeforeLengthCheck: 5,
    lockAnyInstruction: false,
    realModeStackFaultIsGp: false,
    stringStepsBeforeAccess: false,
    popMemoryMovesSpBeforeWrite: false,
    longMode: true,
    sse: true,
  },
};
