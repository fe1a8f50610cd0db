// The 64-bit hypercall table: Xen's numbers, arguments in RDI, RSI, RDX, R10, R8, results in RAX,
// -ENOSYS for everything this hypervisor does not implement. The structures are x86-64's (8-byte
// longs and pointers); the event-channel ones are the same as on x86-32.
import { CpuFault, GS, loadSegment64 } from '@ringvisor/x86-core';
import {
  EFAULT, PHYSDEVOP_set_iopl, EINVAL, ENOSYS, HC, PAGE_SIZE, VMASST_TYPE_writable_pagetables, XENVER_capabilities, XENVER_extraversion, XENVER_get_features, XENVER_pagesize, XENVER_platform_parameters, XENVER_version,
} from '../../abi.js';
import {
  GuestFault,
} from '../../guest-access.js';
import {
  consoleIo, eventChannelOp, GRANT_LAYOUT_64, grantTableOp, multicall, type MulticallLayout, vmAssist, walkTrapTable,
} from '../../hypercalls/common.js';
import {
  schedOp, type SchedLayout,
} from '../../hypercalls/sched.js';
import {
  vcpuOp64,
} from './vcpu64.js';
import {
  CALLBACKF_mask_events, CALLBACKOP_register, CALLBACKOP_unregister, CALLBACKTYPE_event, CALLBACKTYPE_failsafe, CALLBACKTYPE_nmi, CALLBACKTYPE_syscall, HC64, HYPERVISOR_VIRT_START, SEGBASE_FS, SEGBASE_GS_KERNEL, SEGBASE_GS_USER, SEGBASE_GS_USER_SEL, START_INFO_MAGIC_64,
} from '../abi.js';
import {
  rangeOk64,
} from '../guest-access.js';
import {
  hypervisorIret64,
} from '../iret.js';
import {
  Args64, type HypercallContext64,
} from './context.js';
import {
  memoryOp64, mmuextOp64, mmuUpdate64, setGdt64, updateDescriptor64, updateVaMapping64,
} from './memory.js';

const TRAP_INFO_SIZE = 16;
const MULTICALL_ENTRY_SIZE = 64;
/** x86-64 guest handles are 8 bytes, checked canonical and clear of the hypervisor's hole. */
const SCHED_LAYOUT_64: SchedLayout = { pointer: 8, rangeOk: rangeOk64 };
const FAR_TIMEOUT_NS = 100_000_000;
/**
 * XENFEAT bits XENVER_get_features reports, as Xen does to a 64-bit PV guest: pae_pgdir_above_4gb,
 * mmu_pt_update_preserve_ad, gnttab_map_avail_bits (Linux 5.14+ panics without it; a guest here
 * never maps a grant, so no PTE of its carries one).
 */
const REPORTED_FEATURES = (1 << 4) | (1 << 5) | (1 << 7);
/** Xen 4.17, the release whose 64-bit PV interface this follows. */
const XEN_VERSION = (4 << 16) | 17;

/** Runs hypercall `nr`; guest faults inside a handler become -EFAULT. */
export function hypercall64(ctx: HypercallContext64, nr: number, a: Args64): number {
  try {
    return dispatch(ctx, nr, a);
  } catch (error) {
    if (error instanceof GuestFault) return EFAULT;
    throw error;
  }
}

function dispatch(ctx: HypercallContext64, nr: number, a: Args64): number {
  const { domain } = ctx;
  switch (nr) {
    case HC.set_trap_table: return setTrapTable(ctx, a.num(0));
    case HC.mmu_update: return mmuUpdate64(ctx, a);
    case HC.set_gdt: return setGdt64(ctx, a);
    case HC.stack_switch:
      domain.kernelSs = a.u32(0) & 0xffff;
      domain.kernelSp = a.num(1);
      return 0;
    case HC.set_callbacks:
      domain.eventCallback = { address: a.num(0), maskEvents: false };
      domain.failsafeCallback = { address: a.num(1), maskEvents: false };
      domain.syscallCallback = { address: a.num(2), maskEvents: false };
      return 0;
    case HC.fpu_taskswitch:
      domain.cpu.cr0 = a.u32(0) !== 0 ? domain.cpu.cr0 | 8 : domain.cpu.cr0 & ~8;
      return 0;
    case HC.update_descriptor: return updateDescriptor64(ctx, a);
    case HC.memory_op: return memoryOp64(ctx, a);
    case HC.multicall: return multicall(ctx, rangeOk64, a.num(0), a.u32(1), multicallLayout(ctx));
    case HC.update_va_mapping: return updateVaMapping64(ctx, a);
    case HC.set_timer_op: return setTimerOp(ctx, a.num(0));
    case HC.xen_version: return xenVersion(ctx, a.u32(0), a.num(1));
    case HC.console_io: return consoleIo(ctx, rangeOk64, a.u32(0), a.u32(1), a.num(2));
    // writable_pagetables is Xen's for every 64-bit PV guest, for good.
    case HC.vm_assist: return vmAssist(domain.shared, a.u32(0), a.u32(1), VMASST_TYPE_writable_pagetables);
    case HC.iret:
      if (ctx.nested) return EINVAL;
      // RAX comes back from the frame (the vCPU loop leaves it alone after an iret).
      hypervisorIret64(domain);
      return 0;
    case HC.vcpu_op: return vcpuOp64(ctx, a.u32(0), a.u32(1), a.num(2));
    case HC.mmuext_op: return mmuextOp64(ctx, a);
    case HC.grant_table_op: return grantTableOp(domain, ctx.grants, rangeOk64, GRANT_LAYOUT_64, a.u32(0), a.num(1), a.u32(2));
    case HC64.set_segment_base: return setSegmentBase(ctx, a.u32(0), a.num(1));
    case HC64.set_debugreg: return domain.debugRegisters.set(a.lo[0], a.num(1), a.hi[1], domain.cpu.cr4);
    case HC64.get_debugreg: return domain.debugRegisters.get(a.lo[0], domain.cpu.cr4);
    case HC.sched_op: return schedOp(domain, ctx.time, SCHED_LAYOUT_64, a.u32(0), a.num(1));
    case HC64.callback_op: return callbackOp(ctx, a.u32(0), a.num(1));
    case HC.event_channel_op: return eventChannelOp(domain, a.u32(0), a.num(1));
    case HC.physdev_op: {
      // PHYSDEVOP_set_iopl {u32 iopl}: the virtual IOPL for port I/O (there are no ports to reach).
      if (a.u32(0) !== PHYSDEVOP_set_iopl) return ENOSYS;
      const iopl = domain.access.read32(a.num(1));
      if (iopl > 3) return EINVAL;
      domain.iopl = iopl;
      return 0;
    }
    default:
      return ENOSYS;
  }
}

/** set_trap_table: {u8 vector, u8 flags, u16 cs, unsigned long address} until address 0; null clears. */
function setTrapTable(ctx: HypercallContext64, table: number): number {
  const { domain } = ctx;
  return walkTrapTable(ctx, domain.traps, rangeOk64, table, TRAP_INFO_SIZE, (at) => {
    const vector = domain.access.read8(at);
    const flags = domain.access.read8(at + 1);
    const cs = domain.access.read16(at + 2);
    const address = domain.access.read64(at + 8);
    if (address !== 0) domain.traps[vector] = { flags, cs: cs, address };
    return address !== 0;
  });
}

/** multicall's x86-64 entries: {unsigned long op, long result, unsigned long args[6]}. */
function multicallLayout(ctx: HypercallContext64): MulticallLayout<HypercallContext64> {
  const access = ctx.domain.access;
  const args = new Args64();
  return {
    entrySize: MULTICALL_ENTRY_SIZE,
    call: (inner, at, op) => {
      for (let k = 0; k < 6; k++) {
        args.lo[k] = access.read32(at + 16 + k * 8);
        args.hi[k] = access.read32(at + 20 + k * 8);
      }
      return hypercall64(inner, op, args);
    },
    writeArgs: (at, values) => values.forEach((value, k) => access.write64(at + 16 + k * 8, value)),
    writeResult: (at, result) => access.write64(at + 8, result),
  };
}

function setTimerOp(ctx: HypercallContext64, timeout: number): number {
  const now = ctx.time.now();
  if (timeout === 0) ctx.time.stopSingleshot();
  else if (timeout < 0 || timeout - now >= 2 ** 50) ctx.time.setSingleshot(now + FAR_TIMEOUT_NS);
  else ctx.time.setSingleshot(timeout);
  return 0;
}

function xenVersion(ctx: HypercallContext64, cmd: number, arg: number): number {
  const { domain } = ctx;
  const writeString = (text: string, size: number) => {
    const bytes = new Uint8Array(size);
    bytes.set(new TextEncoder().encode(text).subarray(0, size - 1));
    domain.access.writeBytes(arg, bytes);
  };
  switch (cmd) {
    case XENVER_version: return XEN_VERSION;
    case XENVER_extraversion:
      writeString('-ringvisor', 16);
      return 0;
    case XENVER_capabilities:
      writeString(START_INFO_MAGIC_64, 1024);
      return 0;
    case XENVER_platform_parameters:
      domain.access.write64(arg, HYPERVISOR_VIRT_START);
      return 0;
    case XENVER_get_features: {
      // {u32 submap_idx; u32 submap}
      const index = domain.access.read32(arg);
      domain.access.write32(arg + 4, index === 0 ? REPORTED_FEATURES : 0);
      return 0;
    }
    case XENVER_pagesize: return PAGE_SIZE;
    default: return ENOSYS;
  }
}

/** set_segment_base(which, base): FS, the kernel's GS, the user's GS (inactive while in kernel mode). */
function setSegmentBase(ctx: HypercallContext64, which: number, base: number): number {
  const { domain } = ctx;
  const canonical = base >= -(2 ** 47) && base < 2 ** 47;
  switch (which) {
    case SEGBASE_FS:
      if (!canonical) return EINVAL;
      domain.setFsBase(base);
      return 0;
    case SEGBASE_GS_USER:
      if (!canonical) return EINVAL;
      if (domain.kernelMode) domain.inactiveGs = base;
      else domain.setGsBase(base);
      return 0;
    case SEGBASE_GS_KERNEL:
      if (!canonical) return EINVAL;
      if (domain.kernelMode) domain.setGsBase(base);
      else domain.inactiveGs = base;
      return 0;
    case SEGBASE_GS_USER_SEL:
      loadUserGs(ctx, base);
      return 0;
    default:
      return EINVAL;
  }
}

/**
 * SEGBASE_GS_USER_SEL: Xen loads the user's GS selector (RPL forced to 3) from the GDT or LDT with
 * the kernel's GS base kept aside; the user's base becomes the descriptor's. A selector that
 * faults loads null instead and the call still succeeds (Linux BUG()s if it fails), so a bad
 * selector costs the guest only its user GS.
 */
function loadUserGs(ctx: HypercallContext64, value: number): void {
  const { domain } = ctx;
  const cpu = domain.cpu;
  let selector = value & 0xffff;
  if (selector > 3) selector |= 3;
  const activeLo = cpu.segBase[GS];
  const activeHi = cpu.long.segBaseHi[GS];
  try {
    loadSegment64(cpu, GS, selector);
  } catch (e) {
    if (!(e instanceof CpuFault)) throw e;
    loadSegment64(cpu, GS, 0);
  }
  if (!domain.kernelMode) return;
  // In kernel mode the active base stays the kernel's; the user's waits for the switch to user mode.
  domain.inactiveGs = cpu.long.segBaseHi[GS] * 2 ** 32 + (cpu.segBase[GS] >>> 0);
  cpu.segBase[GS] = activeLo;
  cpu.long.segBaseHi[GS] = activeHi;
}

/** callback_op: register {u16 type, u16 flags, unsigned long address @8}, unregister {u16 type}. */
function callbackOp(ctx: HypercallContext64, cmd: number, arg: number): number {
  const { domain } = ctx;
  const type = domain.access.read16(arg);
  if (cmd === CALLBACKOP_unregister) return type === CALLBACKTYPE_nmi ? 0 : EINVAL;
  if (cmd !== CALLBACKOP_register) return ENOSYS;
  const callback = { address: domain.access.read64(arg + 8), maskEvents: (domain.access.read16(arg + 2) & CALLBACKF_mask_events) !== 0 };
  switch (type) {
    case CALLBACKTYPE_event: domain.eventCallback = callback; return 0;
    case CALLBACKTYPE_failsafe: domain.failsafeCallback = callback; return 0;
    case CALLBACKTYPE_syscall: domain.syscallCallback = callback; return 0;
    case CALLBACKTYPE_nmi: return 0;
    // CALLBACKTYPE_syscall32 and sysenter are refused: the kernel clears those features and its 32-bit processes use int $0x80.
    default: return EINVAL;
  }
}
