// HYPERVISOR_iret for a 64-bit PV guest, as Xen's do_iret answers it: the frame the guest leaves
// at RSP is {rax, r11, rcx, flags, rip, cs, rflags, rsp, ss}; a CS with RPL 3 returns to user mode
// (switching to the user L4 and GS, which must exist); CS and SS get RPL 3 whatever the frame
// says, IOPL and VM are cleared and IF set in the live RFLAGS, the upcall mask follows the frame's
// IF, and RCX/R11 come back from the frame unless VGCF_in_syscall asks for a SYSRET-style return
// (RCX = RIP, R11 = RFLAGS). Selectors the GDT does not give go to the failsafe callback.
import { VGCF_in_syscall } from './abi.js';
import type { Domain64 } from './domain.js';

const RAX = 0;
const RCX = 1;
const RSP = 4;
const R11 = 11;
const DS = 3;
const ES = 0;
const FS = 4;
const GS = 5;
const EFLAGS_IF = 0x200;
const EFLAGS_IOPL = 0x3000;
const EFLAGS_VM = 0x20000;

/** Restores the registers from the frame, RAX included (the hypercall leaves RAX alone). */
export function hypervisorIret64(domain: Domain64): void {
  const cpu = domain.cpu;
  const at = domain.reg(RSP);
  const frame: number[] = [];
  // RAX, R11 and RCX as [low, high] dwords: any 64-bit value, exactly (a JS number keeps 53 bits).
  const exact = new Int32Array(6);
  try {
    for (let i = 0; i < 9; i++) frame.push(domain.access.read64(at + i * 8));
    for (let i = 0; i < 6; i++) exact[i] = domain.access.read32(at + i * 4);
  } catch {
    domain.crash('iret: fault reading the frame');
    return;
  }
  const [, , , flags, rip, rawCs, rawRflags, rsp, rawSs] = frame;
  const restore = (reg: number, slot: number) => {
    cpu.reg32[reg] = exact[2 * slot];
    cpu.regHi[reg] = exact[2 * slot + 1];
  };
  restore(RAX, 0);
  const cs = (rawCs & 0xffff) | 3;
  const ss = (rawSs & 0xffff) | 3;
  if ((rawCs & 3) === 3) {
    if (domain.userBase < 0) {
      domain.crash('iret: switching to user mode with no user page tables');
      return;
    }
    domain.toggleGuestMode();
  }
  const rflags = ((rawRflags % 2 ** 32) + 2 ** 32) % 2 ** 32;
  domain.upcallMask = (rflags & EFLAGS_IF) === 0 ? 1 : 0;
  const live = ((rflags & ~(EFLAGS_IOPL | EFLAGS_VM)) | EFLAGS_IF | 2) >>> 0;
  const canonical = (v: number) => v >= -(2 ** 47) && v < 2 ** 47;
  if (!canonical(rip) || !canonical(rsp) || !domain.loadCodeAndStack(cs, ss)) {
    const failsafe = domain.failsafeCallback;
    if (failsafe === null || failsafe.address === 0) {
      domain.crash(`iret: bad selectors cs=0x${cs.toString(16)} ss=0x${ss.toString(16)} and no failsafe callback`);
      return;
    }
    domain.count('failsafe callbacks');
    domain.rip = rip;
    domain.setReg(RSP, rsp);
    cpu.setEflags(live);
    domain.bounce(failsafe.address, -1, failsafe.maskEvents, [cpu.seg[DS], cpu.seg[ES], cpu.seg[FS], cpu.seg[GS]]);
    return;
  }
  domain.rip = rip;
  domain.setReg(RSP, rsp);
  cpu.setEflags(live);
  if ((flags & VGCF_in_syscall) === 0) {
    restore(R11, 1);
    restore(RCX, 2);
  } else {
    domain.setReg(R11, live);
    domain.setReg(RCX, rip);
  }
}
