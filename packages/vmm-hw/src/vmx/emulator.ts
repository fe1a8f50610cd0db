// The VMM's instruction emulator: what KVM's x86 emulator does for an MMIO access (an EPT
// violation on a guest-physical address with no memory behind it), a write to ROM or a string I/O
// instruction. It runs the one guest instruction on a second x86-core CPU whose memory is
// guest-physical (RAM, ROM, and the MMIO bus for the rest) and whose paging walks the guest's own
// page tables, with the guest's registers copied in and the results copied back.
import type { PhysicalMemory } from '@ringvisor/mmu';
import { Paging } from '@ringvisor/mmu';
import type { IoBus } from '@ringvisor/vmm-api';
import { Cpu, MMU_PAGING_FEATURES, MmuPaging, type InterruptKind } from '@ringvisor/x86-core';

/** What emulating one instruction ended in. */
export type EmulationResult = 'done' | 'halted' | 'shutdown' | 'error';

export class InstructionEmulator {
  private readonly cpu: Cpu;
  private readonly paging: Paging;
  /** Why the last emulation ended in 'error'. */
  detail = '';

  constructor(memory: PhysicalMemory, io: IoBus) {
    this.paging = new Paging(memory, { maxPhysAddrBits: 36 });
    // No decoded-instruction cache: guest code pages change behind this CPU's back.
    this.cpu = new Cpu({ memory, io, paging: new MmuPaging(this.paging), decodeCache: false, compileBlocks: false });
    this.cpu.pagingFeatures = MMU_PAGING_FEATURES;
  }

  /**
   * CR0 bits the VMM owns (guest/host mask) and the values the guest believes they have (read
   * shadow): the emulated instruction sees the guest's CR0, the real CR0 keeps the VMM's bits.
   */
  cr0Mask = 0;
  cr0Shadow = 0;

  /** Runs the instruction at the guest's CS:EIP; the guest CPU's state is updated as if it ran it. */
  step(guest: Cpu): EmulationResult {
    return this.run(guest, 1);
  }

  /**
   * Delivers an event whose delivery ended in an EPT violation (its stack or IDT is not RAM):
   * `info` in VMX's interruption-information format, with its error code.
   */
  deliver(guest: Cpu, info: number, errorCode: number): EmulationResult {
    const type = (info >>> 8) & 7;
    const vector = info & 0xff;
    const kind: InterruptKind = type === 3 ? 'exception' : type === 4 ? 'software' : type === 5 ? 'icebp'
      : type === 6 ? (vector === 4 ? 'into' : 'int3') : 'external';
    return this.run(guest, 0, vector, kind, info & (1 << 11) ? errorCode : -1);
  }

  private run(guest: Cpu, budget: number, vector = -1, kind: InterruptKind = 'external', errorCode = -1): EmulationResult {
    const cpu = this.cpu;
    copyState(guest, cpu);
    const mask = this.cr0Mask;
    const owned = guest.cr0 & mask;
    cpu.cr0 = (cpu.cr0 & ~mask) | (this.cr0Shadow & mask);
    cpu.halted = false;
    cpu.inShutdown = false;
    cpu.modeChanged();
    if (vector >= 0) cpu.injectEvent(vector, kind, errorCode);
    const reason = cpu.run(budget);
    const before = { cr0: guest.cr0, cr3: guest.cr3, cr4: guest.cr4, efer: guest.efer };
    copyState(cpu, guest);
    guest.cr0 = (guest.cr0 & ~mask) | owned;
    if (guest.cr0 !== before.cr0 || guest.cr3 !== before.cr3 || guest.cr4 !== before.cr4 || guest.efer !== before.efer) guest.modeChanged();
    else guest.codeSizeChanged();
    switch (reason) {
      case 'budget': return 'done';
      case 'hlt': return 'halted';
      case 'shutdown': return 'shutdown';
      default:
        this.detail = `${reason}${cpu.stop.detail ? `: ${cpu.stop.detail}` : ''}`;
        return 'error';
    }
  }
}

/** The architectural state one instruction can read or change, the x87 included. */
function copyState(from: Cpu, to: Cpu): void {
  const a = from.fpu;
  const b = to.fpu;
  b.regs.set(a.regs);
  b.empty.set(a.empty);
  b.top = a.top;
  b.cw = a.cw;
  b.sw = a.sw;
  b.fip = a.fip;
  b.fcs = a.fcs;
  b.fdp = a.fdp;
  b.fds = a.fds;
  b.fop = a.fop;
  to.reg32.set(from.reg32);
  to.eip = from.eip;
  to.setEflags(from.getEflags());
  to.seg.set(from.seg);
  to.segBase.set(from.segBase);
  to.segLimit.set(from.segLimit);
  to.segAccess.set(from.segAccess);
  to.cpl = from.cpl;
  to.cr0 = from.cr0;
  to.cr2 = from.cr2;
  to.cr3 = from.cr3;
  to.cr4 = from.cr4;
  to.efer = from.efer;
  to.dr.set(from.dr);
  to.gdtrBase = from.gdtrBase;
  to.gdtrLimit = from.gdtrLimit;
  to.idtrBase = from.idtrBase;
  to.idtrLimit = from.idtrLimit;
  to.addressMask = from.addressMask;
}
