// The hypercall table: Xen's numbers and argument order (EBX, ECX, EDX, ESI, EDI), negative errno
// results, -ENOSYS for everything this hypervisor does not implement.
import {
  EFAULT, EINVAL, ENOSYS, EPERM, HC, HYPERVISOR_VIRT_START, PAGE_SIZE, XENVER_capabilities, XENVER_extraversion, XENVER_get_features, XENVER_pagesize, XENVER_platform_parameters, XENVER_version,
} from '../abi.js';
import {
  GuestFault, rangeOk,
} from '../guest-access.js';
import {
  type HypercallContext,
} from './context.js';
import {
  consoleIo, eventChannelOp, GRANT_LAYOUT_32, grantTableOp, multicall, type MulticallLayout, vmAssist, walkTrapTable,
} from './common.js';
import {
  vcpuOp32,
} from './vcpu.js';
import {
  schedOp, type SchedLayout,
} from './sched.js';
import {
  memoryOp, mmuextOp, mmuUpdate, setGdt, updateDescriptor, updateVaMapping,
} from './memory.js';
import {
  hypervisorIret,
} from '../iret.js';
import {
  fixupSelector,
} from '../descriptors.js';

const MULTICALL_ENTRY_SIZE = 32;
/** x86-32 guest handles are 4 bytes, checked below the hypervisor's region. */
const SCHED_LAYOUT_32: SchedLayout = { pointer: 4, rangeOk };
const TRAP_INFO_SIZE = 8;
/** When set_timer_op's timeout is absurdly far, Xen fires it after 100 ms. */
const FAR_TIMEOUT_NS = 100_000_000;

/** Runs hypercall `nr`; returns the value for EAX. Guest faults in a handler become -EFAULT. */
export function hypercall(ctx: HypercallContext, nr: number, a: readonly number[]): number {
  try {
    return dispatch(ctx, nr, a);
  } catch (error) {
    if (error instanceof GuestFault) return EFAULT;
    throw error;
  }
}

function dispatch(ctx: HypercallContext, nr: number, a: readonly number[]): number {
  const { domain } = ctx;
  switch (nr) {
    case HC.set_trap_table: return setTrapTable(ctx, a[0]);
    case HC.mmu_update: return mmuUpdate(ctx, a[0], a[1], a[2], a[3]);
    case HC.set_gdt: return setGdt(ctx, a[0], a[1]);
    case HC.stack_switch:
      if ((a[0] & 3) !== 1) return EPERM;
      domain.kernelSs = a[0] & 0xffff;
      domain.kernelSp = a[1] >>> 0;
      return 0;
    case HC.set_callbacks:
      domain.eventCs = fixupSelector(a[0]);
      domain.eventEip = a[1] >>> 0;
      domain.failsafeCs = fixupSelector(a[2]);
      domain.failsafeEip = a[3] >>> 0;
      return 0;
    case HC.fpu_taskswitch:
      // CR0.TS: the next FPU instruction raises #NM, which the guest's trap handler takes.
      domain.cpu.cr0 = a[0] !== 0 ? domain.cpu.cr0 | 8 : domain.cpu.cr0 & ~8;
      return 0;
    case HC.update_descriptor: return updateDescriptor(ctx, a[0], a[1], a[2], a[3]);
    case HC.memory_op: return memoryOp(ctx, a[0], a[1]);
    case HC.multicall: return multicall(ctx, rangeOk, a[0], a[1] >>> 0, multicallLayout(ctx));
    case HC.update_va_mapping: return updateVaMapping(ctx, a[0], a[1], a[2], a[3]);
    case HC.set_timer_op: return setTimerOp(ctx, (a[1] >>> 0) * 2 ** 32 + (a[0] >>> 0));
    case HC.xen_version: return xenVersion(ctx, a[0], a[1]);
    case HC.console_io: return consoleIo(ctx, rangeOk, a[0], a[1] >>> 0, a[2]);
    case HC.grant_table_op: return grantTableOp(ctx.domain, ctx.grants, rangeOk, GRANT_LAYOUT_32, a[0], a[1], a[2]);
    // Of the assists only runstate_update_flag is implemented (not 4gb_segments, writable_pagetables...).
    case HC.vm_assist: return vmAssist(domain.shared, a[0] >>> 0, a[1] >>> 0, null);
    case HC.iret:
      if (ctx.nested) return EINVAL;
      return hypervisorIret(domain);
    case HC.vcpu_op: return vcpuOp32(ctx, a[0], a[1], a[2]);
    case HC.mmuext_op: return mmuextOp(ctx, a[0], a[1], a[2], a[3]);
    case HC.sched_op: return schedOp(domain, ctx.time, SCHED_LAYOUT_32, a[0], a[1]);
    case HC.event_channel_op: return eventChannelOp(domain, a[0], a[1]);
    default:
      // physdev_op included: a domain without devices has nothing to ask it.
      return ENOSYS;
  }
}

/**
 * set_timer_op(timeout): Xen's do_set_timer_op. 0 cancels; a timeout that is negative as s_time_t
 * or 2^50 ns (~13 days) or more away gets an event in 100 ms instead (Xen's answer to kernels that
 * wrap their jiffies or ask for "never").
 */
function setTimerOp(ctx: HypercallContext, timeout: number): number {
  const now = ctx.time.now();
  if (timeout === 0) ctx.time.stopSingleshot();
  else if (timeout >= 2 ** 63 || timeout - now >= 2 ** 50) ctx.time.setSingleshot(now + FAR_TIMEOUT_NS);
  else ctx.time.setSingleshot(timeout);
  return 0;
}

/** set_trap_table: entries until one with address 0; a null pointer clears the table. */
function setTrapTable(ctx: HypercallContext, table: number): number {
  const { domain } = ctx;
  return walkTrapTable(ctx, domain.traps, rangeOk, table, TRAP_INFO_SIZE, (at) => {
    const vector = domain.access.read8(at);
    const flags = domain.access.read8(at + 1);
    const cs = domain.access.read16(at + 2);
    const address = domain.access.read32(at + 4);
    if (address !== 0) domain.traps[vector] = { flags, cs: fixupSelector(cs), address };
    return address !== 0;
  });
}

/** multicall's x86-32 entries: {u32 op, u32 result, u32 args[6]}. */
function multicallLayout(ctx: HypercallContext): MulticallLayout<HypercallContext> {
  const access = ctx.domain.access;
  return {
    entrySize: MULTICALL_ENTRY_SIZE,
    call: (inner, at, op) => hypercall(inner, op, [0, 1, 2, 3, 4, 5].map((k) => access.read32(at + 8 + k * 4))),
    writeArgs: (at, values) => values.forEach((value, k) => access.write32(at + 8 + k * 4, value)),
    writeResult: (at, result) => access.write32(at + 4, result),
  };
}

function xenVersion(ctx: HypercallContext, cmd: number, arg: number): number {
  const { domain } = ctx;
  const writeString = (text: string, size: number) => {
    const bytes = new Uint8Array(size);
    bytes.set(new TextEncoder().encode(text).subarray(0, size - 1));
    domain.access.writeBytes(arg, bytes);
  };
  switch (cmd) {
    case XENVER_version: return 0x30000;
    case XENVER_extraversion:
      writeString('.0-ringvisor', 16);
      return 0;
    case XENVER_capabilities:
      writeString('xen-3.0-x86_32', 1024);
      return 0;
    case XENVER_platform_parameters:
      domain.access.write32(arg, HYPERVISOR_VIRT_START);
      return 0;
    case XENVER_get_features: {
      // {u32 submap_idx; u32 submap}: no optional feature is offered.
      domain.access.read32(arg);
      domain.access.write32(arg + 4, 0);
      return 0;
    }
    case XENVER_pagesize: return PAGE_SIZE;
    default: return ENOSYS;
  }
}

