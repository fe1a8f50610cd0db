import type { InterruptKind } from './system/interrupt.js';

/**
 * Why `Cpu.run()` returned. `budget`, `hlt`, `shutdown`, `irq-window` and `internal-error` happen
 * on bare hardware too; the others only when the VMM intercepts them (DESIGN.md, "Intercepts").
 */
export type StopReason =
  | 'none'
  | 'budget'
  | 'hlt'
  | 'shutdown'
  | 'irq-window'
  | 'internal-error'
  | 'exception'
  | 'interrupt'
  | 'io'
  | 'cpuid'
  | 'rdmsr'
  | 'wrmsr'
  | 'cr-read'
  | 'cr-write'
  | 'dtr'
  | 'invlpg'
  | 'opcode'
  | 'dr-read'
  | 'dr-write'
  | 'vmcall'
  | 'invd'
  | 'wbinvd'
  | 'ept-violation'
  | 'ept-misconfig';

/**
 * The host-owned events the VMM wants to see. An intercepted event stops `run()` before its
 * instruction takes effect (EIP still at it) and `Cpu.stop` says what it was.
 */
export class InterceptSet {
  /** Exceptions by vector, bit n for vector n (0-31). */
  exceptions = 0;
  /** External interrupts: stop when INTR is asserted and IF=1 instead of acknowledging it. */
  externalInterrupts = false;
  hlt = false;
  /** Every port I/O instruction. */
  ioAll = false;
  /** One bit per port (8 KiB, like VMX's I/O bitmaps); a multi-byte access checks each port. */
  readonly ioPorts = new Uint8Array(0x2000);
  /** True once any bit of `ioPorts` was set with `interceptPort`. */
  ioBitmap = false;
  cpuid = false;
  /** RDMSR and WRMSR. */
  msr = false;
  /** MOV from/to CRn: bit n of each mask. CLTS, LMSW and SMSW count as CR0 accesses. */
  crRead = 0;
  crWrite = 0;
  /** LGDT, LIDT, LLDT, LTR, SGDT, SIDT, SLDT, STR. */
  descriptorTables = false;
  invlpg = false;
  /** Chosen opcodes: index = first byte, or 0x100 + second byte of a 0F xx opcode. */
  readonly opcodes = new Uint8Array(0x200);
  /** Fast check for `opcodes`: true when any entry is set. */
  anyOpcode = false;
  /** INT3 (bit 3), INTO (bit 4) and ICEBP (bit 1): software exceptions, as VMX's exception bitmap sees them. */
  softwareExceptions = 0;
  /** MOV from/to DRn. */
  debugRegisters = false;
  /** VMCALL (0F 01 C1), otherwise #UD. */
  vmcall = false;
  invd = false;
  wbinvd = false;
  /**
   * VMX's CR0/CR4 guest/host masks (SDM Vol. 3C 25.6.6): with `crShadowing`, reads of CR0/CR4 (and
   * SMSW) return the read shadow's bits where the mask is set; a CR0/CR4 write intercepted by
   * `crWrite` stops only when it would change a masked bit from its shadow value, and otherwise
   * leaves the masked bits as they are. CPL checks come before these stops, as in VMX.
   */
  crShadowing = false;
  cr0Mask = 0;
  cr0Shadow = 0;
  cr4Mask = 0;
  cr4Shadow = 0;

  interceptPort(port: number, on = true): void {
    const p = port & 0xffff;
    if (on) this.ioPorts[p >>> 3] |= 1 << (p & 7);
    else this.ioPorts[p >>> 3] &= ~(1 << (p & 7));
    this.ioBitmap = this.ioPorts.some((b) => b !== 0);
  }

  interceptOpcode(opcode: number, on = true): void {
    this.opcodes[opcode & 0x1ff] = on ? 1 : 0;
    this.anyOpcode = this.opcodes.some((b) => b !== 0);
  }

  /** True when an access of `size` bytes at `port` is intercepted. */
  io(port: number, size: number): boolean {
    if (this.ioAll) return true;
    if (!this.ioBitmap) return false;
    for (let i = 0; i < size; i++) {
      const p = (port + i) & 0xffff;
      if (this.ioPorts[p >>> 3] & (1 << (p & 7))) return true;
    }
    return false;
  }

  clear(): void {
    this.exceptions = 0;
    // The tables are filled only when a bit may be set (a VMM clears on every VM entry).
    if (this.ioBitmap) this.ioPorts.fill(0);
    if (this.anyOpcode) this.opcodes.fill(0);
    this.externalInterrupts = this.hlt = this.ioAll = this.ioBitmap = false;
    this.cpuid = this.msr = this.descriptorTables = this.invlpg = this.anyOpcode = false;
    this.crRead = this.crWrite = 0;
    this.softwareExceptions = 0;
    this.debugRegisters = this.vmcall = this.invd = this.wbinvd = this.crShadowing = false;
    this.cr0Mask = this.cr0Shadow = this.cr4Mask = this.cr4Shadow = 0;
  }
}

/** The detail of one stop, reused by every `run()`; only the fields of its `reason` are meaningful. */
export class StopDetail {
  reason: StopReason = 'none';
  /** Length in bytes of the intercepted instruction (prefixes included), for `skipInstruction`. */
  length = 0;
  // Port I/O.
  port = 0;
  size = 0;
  write = false;
  /** INS/OUTS. */
  string = false;
  /** With a REP prefix. */
  repeat = false;
  // Control registers: number, and the general register (ModRM r/m) moved from or to; -1 for CLTS/LMSW/SMSW.
  cr = 0;
  gpr = -1;
  // Exceptions.
  vector = 0;
  /** -1 when the exception has no error code. */
  errorCode = -1;
  /** CR2 for #PF. */
  address = 0;
  /** The MSR number (ECX) for RDMSR/WRMSR; the linear address for INVLPG. */
  msr = 0;
  /**
   * The intercepted opcode (as in `InterceptSet.opcodes`) or descriptor-table instruction; for an
   * 'exception' stop, the instruction of a software exception (0xCC INT3, 0xCE INTO, 0xF1 ICEBP), 0 otherwise.
   */
  opcode = 0;
  /**
   * An event whose delivery the stop interrupted (an EPT exit while reading the IDT or pushing the
   * frame): its vector (-1: none), kind and error code (-1: none). VMX reports it as IDT-vectoring
   * information so the VMM can deliver it again.
   */
  deliveringVector = -1;
  deliveringKind: InterruptKind = 'external';
  deliveringErrorCode = -1;
  /** LMSW's source operand (a 'cr-write' stop with `opcode` 0x101; CLTS has 0x106). */
  data = 0;
  /**
   * An 'exception' stop for a fault an instruction raised: `run()` counted that instruction as
   * retired, as it counts a delivered fault (a VMM that exits on it instead must not count it twice).
   */
  faultRetired = false;
  detail = '';

  reset(): void {
    this.reason = 'none';
    this.length = 0;
    this.errorCode = -1;
    this.gpr = -1;
    this.opcode = 0;
    this.deliveringVector = -1;
    this.faultRetired = false;
    this.detail = '';
  }
}
