// HYPERVISOR_iret for a 32-bit PV guest, as Xen's compat_iret and its return path answer it: the
// frame's EAX, EIP, CS, EFLAGS (and ESP, SS for any ring but 1) are popped, the upcall mask is
// restored from EFLAGS.IF; a frame Xen's IRET to the guest would fault on goes to the failsafe
// callback; a return to virtual-8086 mode becomes a #GP at the guest's handler.
import { CS, DS, ES, FS, GS, SS } from '@ringvisor/x86-core';
import type { Domain } from './domain.js';

const EFLAGS_IF = 0x200;
const EFLAGS_IOPL = 0x3000;
const EFLAGS_VM = 0x20000;
/** Cleared on entry to a trap handler, as the CPU clears them. */
const EFLAGS_TRAP_CLEAR = 0x100 | 0x4000 | 0x10000 | EFLAGS_VM;
const TRAP_GP = 13;
/** A virtual-8086 IRET frame: the EAX slot, EIP, CS, EFLAGS, ESP, SS, ES, DS, FS, GS. */
const VM86_FRAME_WORDS = 10;

export function hypervisorIret(domain: Domain): number {
  const cpu = domain.cpu;
  const r = cpu.reg32;
  const ssBase = cpu.segBase[SS] >>> 0;
  const frameAt = r[4] >>> 0;
  const word = (i: number) => domain.access.read32((ssBase + ((frameAt + i * 4) >>> 0)) >>> 0) >>> 0;
  let eax: number, eip: number, cs: number, eflags: number;
  try {
    [eax, eip, cs, eflags] = [word(0), word(1), word(2) & 0xffff, word(3)];
  } catch {
    domain.crash('iret: fault reading the frame');
    return r[0];
  }
  if ((eflags & EFLAGS_VM) !== 0) return vm86Gp(domain, frameAt, eax);
  const ring = cs & 3;
  let esp = (frameAt + 16) >>> 0;
  let ss = cpu.seg[SS];
  if (ring !== 1) {
    try {
      [esp, ss] = [word(4), word(5) & 0xffff];
    } catch {
      domain.crash('iret: fault reading the outer-ring frame');
      return r[0];
    }
  }
  domain.upcallMask = (eflags & EFLAGS_IF) === 0 ? 1 : 0;
  const liveEflags = ((eflags & ~EFLAGS_IOPL) | EFLAGS_IF | 2) >>> 0;
  if (!returnTo(domain, ring, cs, ss)) {
    failsafe(domain, { eip, cs, eflags: liveEflags, esp, ss }, ring === 1 ? (frameAt + 16) >>> 0 : esp);
    return eax;
  }
  r[4] = esp | 0;
  cpu.eip = eip;
  cpu.cpl = ring;
  cpu.setEflags(liveEflags);
  cpu.codeSizeChanged();
  return eax;
}

/**
 * Loads CS (and SS for an outer ring) as Xen's IRET to the guest would; false, with both left as
 * they were, where that IRET faults (ring 0 is Xen's own; a selector the guest's GDT does not give).
 */
function returnTo(domain: Domain, ring: number, cs: number, ss: number): boolean {
  const cpu = domain.cpu;
  if (ring === 0) return false;
  const savedCs = domain.saveSegment(CS);
  const savedSs = domain.saveSegment(SS);
  if (!domain.loadSegment(CS, cs, ring) || (ring !== 1 && !domain.loadSegment(SS, ss, ring))) {
    domain.restoreSegment(CS, savedCs);
    domain.restoreSegment(SS, savedSs);
    return false;
  }
  if (ring !== 1) {
    // An IRET to an outer ring nulls the data segments its code could not load (SDM IRET).
    for (const reg of [ES, DS, FS, GS]) {
      const access = cpu.segAccess[reg];
      const conformingCode = (access & 0x0c) === 0x0c && (access & 0x10) !== 0;
      if ((access & 0x10000) === 0 && !conformingCode && ((access >>> 5) & 3) < ring) domain.loadSegment(reg, 0, ring);
    }
  }
  return true;
}

/**
 * Xen's failsafe callback: the context the IRET could not enter, with DS, ES, FS, GS below it, is
 * bounced to the callback set_callbacks registered; with none registered the domain is crashed.
 */
function failsafe(domain: Domain, to: { eip: number; cs: number; eflags: number; esp: number; ss: number }, currentEsp: number): void {
  if ((domain.failsafeCs & ~3) === 0) {
    domain.crash(`iret: bad selectors cs=0x${to.cs.toString(16)} ss=0x${to.ss.toString(16)} and no failsafe callback`);
    return;
  }
  const cpu = domain.cpu;
  const segments = [cpu.seg[DS], cpu.seg[ES], cpu.seg[FS], cpu.seg[GS]];
  domain.count('failsafe callbacks');
  domain.bounce(domain.failsafeCs, domain.failsafeEip, -1, false, { ...to, esp: (to.cs & 2) !== 0 ? to.esp : currentEsp }, segments);
}

/**
 * A return to virtual-8086 mode: the frame is moved to the top of the kernel stack, its EAX slot
 * becomes error code 0, and the guest's #GP handler runs on it (the fault is reported on the first
 * virtual-8086 instruction, so the frame is the one to return to).
 */
function vm86Gp(domain: Domain, frameAt: number, eax: number): number {
  const cpu = domain.cpu;
  const r = cpu.reg32;
  const trap = domain.traps[TRAP_GP];
  if (!trap || trap.address === 0 || (domain.kernelSs & 3) === 0) {
    domain.crash('iret to virtual-8086 mode with no #GP handler');
    return eax;
  }
  const ssBase = cpu.segBase[SS] >>> 0;
  const target = (domain.kernelSp - VM86_FRAME_WORDS * 4) >>> 0;
  const savedSs = domain.saveSegment(SS);
  const savedCs = domain.saveSegment(CS);
  let eflags: number;
  try {
    const frame: number[] = [];
    for (let i = 0; i < VM86_FRAME_WORDS; i++) frame.push(domain.access.read32((ssBase + ((frameAt + i * 4) >>> 0)) >>> 0));
    eflags = frame[3] >>> 0;
    frame[0] = 0;
    if (!domain.loadSegment(SS, domain.kernelSs, 1)) throw new RangeError('kernel stack segment');
    const kernelBase = cpu.segBase[SS] >>> 0;
    frame.forEach((value, i) => domain.access.write32((kernelBase + ((target + i * 4) >>> 0)) >>> 0, value));
    if (!domain.loadSegment(CS, (trap.cs & ~3) | 1, 1)) throw new RangeError('handler code segment');
  } catch {
    domain.restoreSegment(SS, savedSs);
    domain.restoreSegment(CS, savedCs);
    domain.crash('iret to virtual-8086 mode: the #GP frame cannot be built');
    return eax;
  }
  if ((trap.flags & 4) !== 0) eflags &= ~EFLAGS_IF;
  domain.upcallMask = (eflags & EFLAGS_IF) === 0 ? 1 : 0;
  r[4] = target | 0;
  cpu.eip = trap.address >>> 0;
  cpu.cpl = 1;
  cpu.setEflags((((eflags & ~EFLAGS_IOPL) | EFLAGS_IF | 2) & ~EFLAGS_TRAP_CLEAR) >>> 0);
  cpu.codeSizeChanged();
  return eax;
}
