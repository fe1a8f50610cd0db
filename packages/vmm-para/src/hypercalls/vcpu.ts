// vcpu_op's vCPU control (Xen's common_vcpu_op) for both ABIs: bringing up the domain's other
// vCPUs with VCPUOP_initialise (the ABI's own context, `initialise`) and VCPUOP_up, taking them
// down, and the timer calls on the named vCPU; and VCPUOP_initialise for x86-32 (arch_set_info_guest).
import {
  CS, DS, ES, FS, GS, SS, setCpuFpuImage,
} from '@ringvisor/x86-core';
import {
  EEXIST, EFAULT, EINVAL, ENOENT, FIRST_RESERVED_GDT_ENTRY, PAGE_SIZE, SHARED_INFO, SHUTDOWN_poweroff, USER_REGS_32, VCPU_CONTEXT_32,
  VCPUOP_down, VCPUOP_get_runstate_info, VCPUOP_initialise, VCPUOP_is_up, VCPUOP_register_runstate_memory_area, VCPUOP_up, VGCF_I387_VALID,
} from '../abi.js';
import { fixupSelector } from '../descriptors.js';
import { TYPE_L2 } from '../frames.js';
import { rangeOk } from '../guest-access.js';
import { gdtVirt, IDT_VIRT } from '../layout.js';
import { RUNSTATE_LAYOUT_32, RUNSTATE_offline, RUNSTATE_runnable, type RunstateLayout, type RunstateSink } from '../runstate.js';
import { domainShutdown, type SchedHost } from '../sched-state.js';
import { DEFAULT_PERIOD_NS } from '../time.js';
import { vcpuOp, type CommonHost } from './common.js';
import type { HypercallContext, SmpHost, VcpuControl } from './context.js';

/** CR0 a PV vCPU runs with (PE, MP, ET, NE, WP, PG); the guest's context chooses only TS. */
const PV_CR0 = 0x80010033;
const CR0_TS = 8;
const EFLAGS_IF = 0x200;
const EFLAGS_IOPL = 0x3000;
/** Virtual-8086 mode: no PV vCPU here runs in it. */
const EFLAGS_VM = 0x20000;
/** The most LDT entries a context may name (Xen's check; this hypervisor offers no LDT at all). */
const MAX_LDT_ENTRIES = 8192;

export function vcpuOp32(ctx: HypercallContext, cmd: number, vcpuId: number, arg: number): number {
  if (cmd === VCPUOP_get_runstate_info || cmd === VCPUOP_register_runstate_memory_area) {
    // The handle is the low half of a u64 union on x86-32.
    return runstateOp(ctx.smp, ctx.domain.access, cmd, vcpuId, arg, RUNSTATE_LAYOUT_32, rangeOk, () => ctx.domain.access.read32(arg));
  }
  return vcpuControlOp(ctx.smp, ctx.domain, cmd, vcpuId, arg, (id) => initialise(ctx, id, arg));
}

/**
 * VCPUOP_get_runstate_info (the named vCPU's runstate with its current state's time up to now,
 * as vcpu_runstate_get) and VCPUOP_register_runstate_memory_area (`area` reads the guest handle; a
 * null handle stops the updates, one the guest may not name is -EFAULT; the area is written at
 * once, then at every change), in the ABI's `layout`.
 */
export function runstateOp<C extends VcpuControl>(
  smp: SmpHost<C>, access: RunstateSink, cmd: number, vcpuId: number, arg: number, layout: RunstateLayout,
  inRange: (linear: number, length: number) => boolean, area: () => number,
): number {
  const id = vcpuId >>> 0;
  if (id >= smp.maxVcpus) return ENOENT;
  const target = (smp.vcpu(id) ?? smp.make(id)).domain;
  if (cmd === VCPUOP_get_runstate_info) {
    if (!inRange(arg, layout.size)) return EFAULT;
    target.runstate.write(access, arg, layout, target.clock?.now() ?? null, false);
    return 0;
  }
  const at = area();
  if (at !== 0 && !inRange(at, layout.size)) return EFAULT;
  target.runstateArea = at === 0 ? null : at;
  target.writeRunstateArea();
  return 0;
}

/**
 * The vcpu_op calls both ABIs answer alike, on vCPU `vcpuId` of the caller's domain (`caller`, the
 * calling vCPU's view); `initialise` reads and applies the ABI's vcpu_guest_context.
 */
export function vcpuControlOp<C extends VcpuControl>(
  smp: SmpHost<C>, caller: C['domain'] & SchedHost & CommonHost, cmd: number, vcpuId: number, arg: number, initialise: (id: number) => number,
): number {
  // An unsigned int in the ABI.
  const id = vcpuId >>> 0;
  if (id >= smp.maxVcpus) return ENOENT;
  switch (cmd) {
    case VCPUOP_initialise: return initialise(id);
    case VCPUOP_up: {
      const target = smp.vcpu(id);
      if (target === null || !target.domain.initialised) return EINVAL;
      // Whoever schedules the vCPU sees it runnable (Vcpu.hasPendingEvent).
      target.domain.up = true;
      target.domain.setRunstate(RUNSTATE_runnable);
      return 0;
    }
    case VCPUOP_down: {
      // The last vCPU going down powers the domain off, as Xen does.
      let others = false;
      for (let other = 0; other < smp.maxVcpus; other++) if (other !== id && smp.vcpu(other)?.domain.up === true) others = true;
      if (!others) {
        domainShutdown(caller, SHUTDOWN_poweroff, '');
        return 0;
      }
      const target = smp.vcpu(id);
      if (!target) return 0;
      target.domain.up = false;
      // The caller goes offline as it leaves run(); another is not running (one vCPU of a domain runs at a time here).
      if (target.domain !== caller) target.domain.setRunstate(RUNSTATE_offline);
      return 0;
    }
    case VCPUOP_is_up: return smp.vcpu(id)?.domain.up === true ? 1 : 0;
    default: {
      const target = smp.vcpu(id) ?? smp.make(id);
      return vcpuOp(caller, { time: target.time, current: target.domain === caller, up: target.domain.up }, cmd, arg);
    }
  }
}

/**
 * VCPUOP_initialise(vcpu, vcpu_guest_context): the whole context is read first (-EFAULT), a vCPU
 * already initialised is -EEXIST; then Xen's checks: an LDT base not page aligned or more than 8192
 * entries, a GDT past the reserved entries or in frames that fail validation, a CR3 that is not a
 * page directory of the domain — all -EINVAL, nothing changed. Selectors of ring 0 become ring 1,
 * EFLAGS.IF is set and IOPL and VM cleared, only CR0.TS is taken (CR4 and the debug registers are
 * not: this hypervisor gives PV vCPUs neither). The vCPU stays down until VCPUOP_up.
 */
function initialise(ctx: HypercallContext, id: number, arg: number): number {
  const c = VCPU_CONTEXT_32;
  const bytes = new Uint8Array(c.size);
  ctx.domain.access.readBytes(arg, bytes);
  const view = new DataView(bytes.buffer);
  const u32 = (offset: number) => view.getUint32(offset, true);
  const target = ctx.smp.vcpu(id) ?? ctx.smp.make(id);
  const vcpu = target.domain;
  if (vcpu.initialised) return EEXIST;
  const ldtBase = u32(c.ldtBase);
  const ldtEntries = u32(c.ldtEnts);
  if ((ldtBase & (PAGE_SIZE - 1)) !== 0 || ldtEntries > MAX_LDT_ENTRIES) return EINVAL;
  // This hypervisor has no LDTs (MMUEXT_SET_LDT is refused too): a context that names one is refused.
  if (ldtEntries !== 0) return EINVAL;
  const gdtEntries = u32(c.gdtEnts);
  if (gdtEntries > FIRST_RESERVED_GDT_ENTRY) return EINVAL;
  const gdtFrames = Array.from({ length: Math.ceil(gdtEntries / 512) }, (_, i) => u32(c.gdtFrames + i * 4));
  const frames = vcpu.tables.frames;
  const cr3 = u32(c.ctrlreg + 12);
  // xen_cr3_to_pfn on x86-32: the frame number is rotated into CR3.
  const l2 = ((cr3 >>> 12) | (cr3 << 20)) >>> 0;
  if (!frames.ownedByDomain(l2) || !frames.getType(l2, TYPE_L2)) {
    vcpu.refuse();
    return EINVAL;
  }
  if (!vcpu.setGdt(gdtFrames, gdtEntries)) {
    frames.putType(l2);
    vcpu.refuse();
    return EINVAL;
  }
  const cpu = vcpu.cpu;
  if ((u32(c.flags) & VGCF_I387_VALID) !== 0) setCpuFpuImage(cpu, bytes.slice(c.fpu, c.fpu + 512));
  for (let vector = 0; vector < 256; vector++) {
    const at = c.trapCtxt + vector * 8;
    const address = u32(at + 4);
    vcpu.traps[vector] = address === 0 ? null : { flags: bytes[at + 1], cs: fixupSelector(view.getUint16(at + 2, true)), address };
  }
  vcpu.kernelSs = fixupSelector(u32(c.kernelSs));
  vcpu.kernelSp = u32(c.kernelSp);
  vcpu.eventCs = fixupSelector(u32(c.eventCs));
  vcpu.eventEip = u32(c.eventEip);
  vcpu.failsafeCs = fixupSelector(u32(c.failsafeCs));
  vcpu.failsafeEip = u32(c.failsafeEip);

  const r = c.userRegs;
  const u = USER_REGS_32;
  const regs = cpu.reg32;
  regs[0] = u32(r + u.eax);
  regs[1] = u32(r + u.ecx);
  regs[2] = u32(r + u.edx);
  regs[3] = u32(r + u.ebx);
  regs[4] = u32(r + u.esp);
  regs[5] = u32(r + u.ebp);
  regs[6] = u32(r + u.esi);
  regs[7] = u32(r + u.edi);
  cpu.eip = u32(r + u.eip);
  cpu.cr0 = PV_CR0 | (u32(c.ctrlreg) & CR0_TS);
  cpu.cr4 = 0;
  cpu.gdtrBase = gdtVirt(id);
  cpu.gdtrLimit = 0xffff;
  cpu.idtrBase = IDT_VIRT;
  cpu.idtrLimit = 0x7ff;
  vcpu.loadBaseptr(l2);
  const cs = fixupSelector(view.getUint16(r + u.cs, true));
  const ring = cs & 3;
  // Segments load as the first entry to the guest would load them: a CS or SS that cannot be
  // loaded leaves the vCPU nothing to run, and the domain crashes when it is brought up and runs.
  vcpu.entryFault = !vcpu.loadSegment(CS, cs, ring) || !vcpu.loadSegment(SS, fixupSelector(view.getUint16(r + u.ss, true)), ring)
    ? `VCPUOP_initialise gave vCPU ${id} a code or stack segment it cannot run with` : '';
  for (const [reg, offset] of [[DS, u.ds], [ES, u.es], [FS, u.fs], [GS, u.gs]] as const) vcpu.loadSegment(reg, view.getUint16(r + offset, true), ring);
  cpu.cpl = ring;
  cpu.setEflags(((u32(r + u.eflags) | EFLAGS_IF) & ~(EFLAGS_IOPL | EFLAGS_VM)) >>> 0);
  cpu.codeSizeChanged();
  // Its events start masked, as vCPU 0's do.
  vcpu.memory.write8(vcpu.vcpuInfoBase + SHARED_INFO.upcallMask, 1);
  target.time.start(null);
  target.time.setPeriodic(DEFAULT_PERIOD_NS);
  vcpu.initialised = true;
  return 0;
}
