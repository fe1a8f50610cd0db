// vcpu_op for 64-bit domains: the vCPU control both ABIs share (../../hypercalls/vcpu.ts) with
// VCPUOP_initialise's x86-64 context (Xen's arch_set_info_guest for a 64-bit PV vCPU), and
// register_vcpu_info on the named vCPU.
import { setCpuFpuImage } from '@ringvisor/x86-core';
import {
  EEXIST, EINVAL, ENOENT, FIRST_RESERVED_GDT_ENTRY, PAGE_SIZE, VCPUOP_get_runstate_info, VCPUOP_register_runstate_memory_area, VGCF_I387_VALID,
} from '../../abi.js';
import { USER_REGS_64, VCPU_CONTEXT_64, VCPUOP_register_vcpu_info } from '../abi.js';
import { runstateOp, vcpuControlOp } from '../../hypercalls/vcpu.js';
import { RUNSTATE_LAYOUT_64 } from '../../runstate.js';
import { rangeOk64 } from '../guest-access.js';
import { TYPE_L4 } from '../../frames.js';
import { DEFAULT_PERIOD_NS } from '../../time.js';
import type { HypercallContext64 } from './context.js';

/** vcpu_guest_context.flags bits a 64-bit context uses (arch-x86/xen.h). */
const VGCF_in_kernel = 1 << 2;
const VGCF_failsafe_disables_events = 1 << 3;
const VGCF_syscall_disables_events = 1 << 4;
const CR0_TS = 8;
const EFLAGS_IF = 0x200;
const EFLAGS_IOPL = 0x3000;
/** The most LDT entries a context may name (Xen's check; a 64-bit PV vCPU here takes no LDT). */
const MAX_LDT_ENTRIES = 8192;
/** cpu_user_regs' general registers in x86-core's register numbering (RAX 0 .. R15 15). */
const GENERAL_REGISTERS: readonly (readonly [number, number])[] = [
  [USER_REGS_64.r15, 15], [USER_REGS_64.r14, 14], [USER_REGS_64.r13, 13], [USER_REGS_64.r12, 12], [USER_REGS_64.rbp, 5],
  [USER_REGS_64.rbx, 3], [USER_REGS_64.r11, 11], [USER_REGS_64.r10, 10], [USER_REGS_64.r9, 9], [USER_REGS_64.r8, 8],
  [USER_REGS_64.rax, 0], [USER_REGS_64.rcx, 1], [USER_REGS_64.rdx, 2], [USER_REGS_64.rsi, 6], [USER_REGS_64.rdi, 7],
];
const RSP = 4;
/** An RPL-0 selector a 64-bit guest names becomes RPL 3 (Xen's fixup_guest_code/stack_selector). */
const fixupSelector64 = (selector: number) => ((selector & 3) === 0 ? selector | 3 : selector) & 0xffff;

/** A canonical 48-bit address as the signed number the 64-bit code uses, or null. */
function canonical(value: bigint): number | null {
  const signed = BigInt.asIntN(64, value);
  return signed >= -(1n << 47n) && signed < 1n << 47n ? Number(signed) : null;
}

export function vcpuOp64(ctx: HypercallContext64, cmd: number, vcpuId: number, arg: number): number {
  const { domain, smp } = ctx;
  if (cmd === VCPUOP_get_runstate_info || cmd === VCPUOP_register_runstate_memory_area) {
    return runstateOp(smp, domain.access, cmd, vcpuId, arg, RUNSTATE_LAYOUT_64, rangeOk64, () => domain.access.read64(arg));
  }
  if (cmd === VCPUOP_register_vcpu_info) {
    const id = vcpuId >>> 0;
    if (id >= smp.maxVcpus) return ENOENT;
    const target = smp.vcpu(id) ?? smp.make(id);
    return target.domain.registerVcpuInfo(domain.access.read64(arg), domain.access.read32(arg + 8)) ? 0 : EINVAL;
  }
  return vcpuControlOp(smp, domain, cmd, vcpuId, arg, (id) => initialise64(ctx, id, arg));
}

/**
 * VCPUOP_initialise with an x86-64 vcpu_guest_context (5168 bytes, read whole first: -EFAULT):
 * -EEXIST once initialised; -EINVAL for a non-canonical RIP, RSP, kernel stack, segment base,
 * callback or trap handler, an LDT (none here: an LDT base not page aligned or above 8192 entries
 * is what Xen refuses), a GDT past the reserved entries or in frames that fail validation, a CR3
 * (or user CR3) that is not one of the domain's L4s — nothing changed then. RPL-0 selectors become
 * RPL 3, IF is forced on and IOPL kept as the virtual one, only CR0.TS is taken; FPU state with
 * VGCF_I387_VALID. A CS or SS its GDT cannot give crashes the domain when the vCPU runs.
 */
function initialise64(ctx: HypercallContext64, id: number, arg: number): number {
  const c = VCPU_CONTEXT_64;
  const u = USER_REGS_64;
  const bytes = new Uint8Array(c.size);
  ctx.domain.access.readBytes(arg, bytes);
  const view = new DataView(bytes.buffer);
  const u64 = (offset: number) => view.getBigUint64(offset, true);
  const target = ctx.smp.vcpu(id) ?? ctx.smp.make(id);
  const vcpu = target.domain;
  if (vcpu.initialised) return EEXIST;
  const addresses = [u.rip, u.rsp].map((o) => c.userRegs + o).concat([c.kernelSp, c.fsBase, c.gsBaseKernel, c.gsBaseUser, c.eventCallback, c.failsafeCallback, c.syscallCallback]);
  const at = Object.fromEntries(addresses.map((offset) => [offset, canonical(u64(offset))]));
  if (Object.values(at).some((value) => value === null)) return EINVAL;
  const traps: ({ flags: number; cs: number; address: number } | null)[] = [];
  for (let vector = 0; vector < 256; vector++) {
    const entry = c.trapCtxt + vector * 16;
    const address = canonical(u64(entry + 8));
    if (address === null) return EINVAL;
    traps.push(address === 0 ? null : { flags: bytes[entry + 1], cs: fixupSelector64(view.getUint16(entry + 2, true)), address });
  }
  const ldtBase = u64(c.ldtBase);
  const ldtEntries = u64(c.ldtEnts);
  if ((ldtBase & BigInt(PAGE_SIZE - 1)) !== 0n || ldtEntries > BigInt(MAX_LDT_ENTRIES) || ldtEntries !== 0n) return EINVAL;
  const gdtEntries = u64(c.gdtEnts);
  if (gdtEntries > BigInt(FIRST_RESERVED_GDT_ENTRY)) return EINVAL;
  const gdtFrames = Array.from({ length: Math.ceil(Number(gdtEntries) / 512) }, (_, i) => u64(c.gdtFrames + i * 8));
  const frames = vcpu.tables.frames;
  const l4Of = (cr3: bigint): number | null => {
    const mfn = cr3 >> 12n;
    return mfn < BigInt(frames.frames) ? Number(mfn) : null;
  };
  const kernelL4 = l4Of(u64(c.ctrlreg + 3 * 8));
  const userCr3 = u64(c.ctrlreg + 8);
  const userL4 = userCr3 === 0n ? -1 : l4Of(userCr3);
  const taken: number[] = [];
  const release = () => taken.forEach((mfn) => frames.putType(mfn));
  for (const l4 of [kernelL4, userL4]) {
    if (l4 === -1) continue;
    if (l4 === null || !frames.ownedByDomain(l4) || !frames.getType(l4, TYPE_L4)) {
      release();
      vcpu.refuse();
      return EINVAL;
    }
    taken.push(l4);
  }
  if (gdtFrames.some((f) => f >= BigInt(frames.frames)) || !vcpu.setGdt(gdtFrames.map(Number), Number(gdtEntries))) {
    release();
    vcpu.refuse();
    return EINVAL;
  }
  const cpu = vcpu.cpu;
  const flags = Number(u64(c.flags) & 0xffn);
  if ((flags & VGCF_I387_VALID) !== 0) setCpuFpuImage(cpu, bytes.slice(c.fpu, c.fpu + 512));
  traps.forEach((trap, vector) => { vcpu.traps[vector] = trap; });
  const regs = c.userRegs;
  for (const [offset, index] of GENERAL_REGISTERS) {
    cpu.reg32[index] = view.getInt32(regs + offset, true);
    cpu.regHi[index] = view.getInt32(regs + offset + 4, true);
  }
  vcpu.rip = at[regs + u.rip]!;
  vcpu.setReg(RSP, at[regs + u.rsp]!);
  vcpu.kernelSs = view.getUint16(c.kernelSs, true) | 3;
  vcpu.kernelSp = at[c.kernelSp]!;
  vcpu.eventCallback = { address: at[c.eventCallback]!, maskEvents: false };
  vcpu.failsafeCallback = { address: at[c.failsafeCallback]!, maskEvents: (flags & VGCF_failsafe_disables_events) !== 0 };
  vcpu.syscallCallback = { address: at[c.syscallCallback]!, maskEvents: (flags & VGCF_syscall_disables_events) !== 0 };
  vcpu.kernelMode = (flags & VGCF_in_kernel) !== 0;
  vcpu.kernelBase = kernelL4!;
  vcpu.userBase = userL4!;
  vcpu.loadAddressSpace();
  cpu.cr0 = (cpu.cr0 & ~CR0_TS) | (Number(u64(c.ctrlreg) & 0xffffffffn) & CR0_TS);
  const rflags = Number(u64(regs + u.rflags) & 0xffffffffn);
  vcpu.iopl = (rflags & EFLAGS_IOPL) >>> 12;
  cpu.setEflags(((rflags | EFLAGS_IF) & ~EFLAGS_IOPL) >>> 0);
  // FS, and GS for the mode it starts in (the other's base waits for the switch).
  vcpu.setFsBase(at[c.fsBase]!);
  const [activeGs, inactiveGs] = vcpu.kernelMode ? [at[c.gsBaseKernel]!, at[c.gsBaseUser]!] : [at[c.gsBaseUser]!, at[c.gsBaseKernel]!];
  vcpu.setGsBase(activeGs);
  vcpu.inactiveGs = inactiveGs;
  if (!vcpu.loadCodeAndStack(fixupSelector64(view.getUint16(regs + u.cs, true)), fixupSelector64(view.getUint16(regs + u.ss, true)))) {
    vcpu.entryFault = `VCPUOP_initialise gave vCPU ${id} a code or stack segment it cannot run with`;
  }
  vcpu.upcallMask = 1;
  target.time.start(null);
  target.time.setPeriodic(DEFAULT_PERIOD_NS);
  vcpu.initialised = true;
  return 0;
}
