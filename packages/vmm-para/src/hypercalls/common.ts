// The hypercalls whose structures are the same on x86-32 and x86-64 (vcpu_op's timers,
// event_channel_op: u16/u32/u64 fields only), for both domains; and the memory map's e820 entry.
import {
  CONSOLEIO_read, CONSOLEIO_write, DOMID_SELF, GNTST_bad_domain, GNTST_bad_gntref, GNTST_bad_handle, GNTST_okay,
  GNTST_permission_denied, GNTTABOP_map_grant_ref, GNTTABOP_query_size, GNTTABOP_setup_table, GNTTABOP_unmap_grant_ref, FIRST_RESERVED_GDT_ENTRY, EFAULT, EINVAL, ENOENT, EPERM, GUEST_DOMID, ENOSYS, ETIME, EVTCHNOP_alloc_unbound, EVTCHNOP_bind_interdomain, EVTCHNOP_bind_ipi, EVTCHNOP_bind_vcpu, EVTCHNOP_bind_virq, EVTCHNOP_close,
  EVTCHNOP_send, EVTCHNOP_unmask, PAGE_SIZE, VCPU_SSHOTTMR_future, VCPUOP_is_up, VCPUOP_set_periodic_timer,
  VCPUOP_set_singleshot_timer, VCPUOP_stop_periodic_timer, VCPUOP_stop_singleshot_timer, VMASST_CMD_disable, VMASST_CMD_enable,
  VMASST_TYPE_runstate_update_flag,
} from '../abi.js';
import type { GrantTable } from '../backends/grant-table.js';
import type { EventChannels } from '../events.js';
import type { FrameTable } from '../frames.js';
import { GuestFault } from '../guest-access.js';
import { PREEMPT_BATCH, PREEMPTED } from './context.js';
import type { DomainTime } from '../time.js';

/** What these calls need of a domain, 32- or 64-bit. */
export interface CommonHost {
  readonly access: {
    read16(linear: number): number;
    read32(linear: number): number;
    write32(linear: number, value: number): void;
  };
  readonly events: EventChannels;
}

/** What a batched page-table call (mmu_update, mmuext_op) needs, 32- or 64-bit. */
export interface BatchContext {
  readonly domain: {
    readonly access: { read32(linear: number): number; write32(linear: number, value: number): void };
    readonly tables: { readonly frames: FrameTable };
    refuse(): void;
    flushTlb(): void;
  };
  continueWith(args: number[]): void;
}

/** The done counter of a batched call (pdone), written as Xen writes it: a bad pointer is ignored. */
function putDone(ctx: BatchContext, pdone: number, done: number): void {
  if (pdone === 0) return;
  try {
    ctx.domain.access.write32(pdone, done);
  } catch (error) {
    if (!(error instanceof GuestFault)) throw error;
  }
}

function readDone(ctx: BatchContext, pdone: number): number {
  if (pdone === 0) return 0;
  try {
    return ctx.domain.access.read32(pdone);
  } catch {
    return 0;
  }
}

/** Only DOMID_SELF: an unprivileged domain names no foreign domain (set_foreigndom). */
const foreignOk = (foreigndom: number) => (foreigndom & 0xffff) === DOMID_SELF;

/** After page-table changes: frames that lost a type must not stay reachable through stale translations. */
export function settle(ctx: BatchContext): void {
  const frames = ctx.domain.tables.frames;
  if (frames.typeDropped) {
    frames.typeDropped = false;
    ctx.domain.flushTlb();
  }
}

/**
 * The frame of mmu_update and mmuext_op (Xen's do_mmu_update/do_mmuext_op): only DOMID_SELF, the
 * whole array outside the hypervisor (`inRange`), items until the first refused one (-EINVAL), a continuation
 * every PREEMPT_BATCH items, and the running total in `pdone`.
 */
export function batch(
  ctx: BatchContext, inRange: (linear: number, length: number) => boolean, base: number, rawCount: number, pdone: number, foreigndom: number, size: number,
  item: (at: number) => boolean,
): number {
  let count = rawCount >>> 0;
  let done = 0;
  if ((count & PREEMPTED) !== 0) {
    count &= ~PREEMPTED;
    done = readDone(ctx, pdone);
  }
  if (!foreignOk(foreigndom)) return EINVAL;
  if (!inRange(base, count * size)) return EFAULT;
  let rc = 0;
  let i = 0;
  try {
    for (; i < count; i++) {
      if (i === PREEMPT_BATCH) {
        ctx.continueWith([base + i * size, (count - i) | PREEMPTED, pdone, foreigndom]);
        break;
      }
      if (!item(base + i * size)) {
        ctx.domain.refuse();
        rc = EINVAL;
        break;
      }
    }
  } catch (error) {
    if (!(error instanceof GuestFault)) throw error;
    rc = EFAULT;
  }
  settle(ctx);
  putDone(ctx, pdone, done + i);
  return rc;
}

/**
 * vm_assist: runstate_update_flag (on or off, the domain's) and, enable only, `kept` (an assist this
 * ABI has on for good, or null); any other assist is -EINVAL, a command other than enable/disable -ENOSYS.
 */
export function vmAssist(shared: { runstateUpdateFlag: boolean }, cmd: number, type: number, kept: number | null): number {
  if (cmd > VMASST_CMD_disable) return ENOSYS;
  if (type === VMASST_TYPE_runstate_update_flag) {
    shared.runstateUpdateFlag = cmd === VMASST_CMD_enable;
    return 0;
  }
  return cmd === VMASST_CMD_enable && type === kept ? 0 : EINVAL;
}

/** XENMEM_memory_map's one e820 entry {u64 addr, u64 size, u32 type}: RAM over the domain's `pages`. */
export function memoryMapEntry(pages: number): Uint8Array {
  const entry = new Uint8Array(20);
  const view = new DataView(entry.buffer);
  view.setUint32(8, (pages * PAGE_SIZE) % 2 ** 32, true);
  view.setUint32(12, Math.floor((pages * PAGE_SIZE) / 2 ** 32), true);
  view.setUint32(16, 1, true);
  return entry;
}

/** The vCPU a vcpu_op names, as the calls here need it. */
export interface VcpuOpTarget {
  readonly time: DomainTime;
  /** It is the caller (one-shot timers are the caller's own only). */
  readonly current: boolean;
  readonly up: boolean;
}

/** vcpu_op's calls both ABIs share, on `target` (null: no such vCPU, -ENOENT). */
export function vcpuOp(domain: CommonHost, target: VcpuOpTarget | null, cmd: number, arg: number): number {
  if (target === null) return ENOENT;
  const time = target.time;
  switch (cmd) {
    case VCPUOP_is_up: return target.up ? 1 : 0;
    case VCPUOP_set_singleshot_timer: {
      if (!target.current) return EINVAL;
      const deadline = domain.access.read32(arg + 4) * 2 ** 32 + domain.access.read32(arg);
      const flags = domain.access.read32(arg + 8);
      if ((flags & VCPU_SSHOTTMR_future) !== 0 && deadline < time.now()) return ETIME;
      time.setSingleshot(deadline);
      return 0;
    }
    case VCPUOP_stop_singleshot_timer:
      if (!target.current) return EINVAL;
      time.stopSingleshot();
      return 0;
    case VCPUOP_set_periodic_timer: {
      const period = domain.access.read32(arg + 4) * 2 ** 32 + domain.access.read32(arg);
      // Xen refuses periods below 1 ms.
      if (period < 1_000_000) return EINVAL;
      time.setPeriodic(period);
      return 0;
    }
    case VCPUOP_stop_periodic_timer:
      time.stopPeriodic();
      return 0;
    default:
      return ENOSYS;
  }
}

export function eventChannelOp(domain: CommonHost, cmd: number, arg: number): number {
  const events = domain.events;
  switch (cmd) {
    case EVTCHNOP_bind_virq: {
      const virq = domain.access.read32(arg);
      const vcpu = domain.access.read32(arg + 4);
      return newPort(domain, arg + 8, () => events.bindVirq(virq, vcpu));
    }
    case EVTCHNOP_alloc_unbound: {
      const dom = domain.access.read16(arg);
      const remote = domain.access.read16(arg + 2);
      return newPort(domain, arg + 4, () => events.allocUnbound(dom, remote));
    }
    case EVTCHNOP_bind_interdomain: {
      // {u16 remote_dom; u32 remote_port @4; u32 local_port @8 (out)}
      const remote = domain.access.read16(arg);
      const remotePort = domain.access.read32(arg + 4);
      return newPort(domain, arg + 8, () => events.bindInterdomain(remote, remotePort));
    }
    case EVTCHNOP_bind_ipi:
      // {u32 vcpu; u32 port (out)}
      return newPort(domain, arg + 4, () => events.bindIpi(domain.access.read32(arg)));
    case EVTCHNOP_bind_vcpu:
      // {u32 port; u32 vcpu}
      return events.bindVcpu(domain.access.read32(arg), domain.access.read32(arg + 4));
    case EVTCHNOP_close: return events.close(domain.access.read32(arg));
    case EVTCHNOP_send: return events.send(domain.access.read32(arg));
    case EVTCHNOP_unmask: return events.unmask(domain.access.read32(arg));
    default: return ENOSYS;
  }
}

/** A port `take` allocates, written back at `out`: checked writable before a port is taken. */
function newPort(domain: CommonHost, out: number, take: () => number): number {
  const access = domain.access;
  access.write32(out, access.read32(out));
  const port = take();
  if (port < 0) return port;
  access.write32(out, port);
  return 0;
}


/** What console_io and the memory-map calls need: guest memory, continuations, the console. */
export interface GuestCallContext {
  readonly domain: {
    readonly access: {
      read16(linear: number): number;
      read32(linear: number): number;
      write32(linear: number, value: number): void;
      readBytes(linear: number, into: Uint8Array): void;
      writeBytes(linear: number, from: Uint8Array): void;
    };
  };
  continueWith(args: number[]): void;
  consoleWrite(bytes: Uint8Array): void;
}

/** Console output copied per piece (Xen's console_io copies 128 bytes at a time). */
const CONSOLE_CHUNK = 128;

/** console_io: writes go to the host console (continued every PREEMPT_BATCH pieces); reads give 0 (input takes the ring). */
export function consoleIo(ctx: GuestCallContext, inRange: (linear: number, length: number) => boolean, cmd: number, count: number, buffer: number): number {
  switch (cmd) {
    case CONSOLEIO_write: {
      if (!inRange(buffer, count)) return EFAULT;
      for (let done = 0; done < count; done += CONSOLE_CHUNK) {
        if (done === CONSOLE_CHUNK * PREEMPT_BATCH) {
          ctx.continueWith([cmd, count - done, buffer + done]);
          return 0;
        }
        const piece = new Uint8Array(Math.min(CONSOLE_CHUNK, count - done));
        ctx.domain.access.readBytes(buffer + done, piece);
        ctx.consoleWrite(piece);
      }
      return 0;
    }
    case CONSOLEIO_read:
      return 0;
    default:
      return ENOSYS;
  }
}

/** XENMEM_current/maximum_reservation: the domain's own only (Xen: another's is for privileged domains). */
export function reservation(ctx: GuestCallContext, arg: number, pages: number): number {
  const dom = ctx.domain.access.read16(arg);
  return dom === DOMID_SELF || dom === GUEST_DOMID ? pages : EPERM;
}

/** XENMEM_memory_map: one e820 RAM entry at `buffer` (its nr_entries at `arg` becomes 1). */
export function memoryMap(ctx: GuestCallContext, inRange: (linear: number, length: number) => boolean, arg: number, buffer: number, pages: number): number {
  const access = ctx.domain.access;
  const capacity = access.read32(arg);
  if (capacity < 1) return EINVAL;
  if (!inRange(buffer, 20)) return EFAULT;
  access.writeBytes(buffer, memoryMapEntry(pages));
  access.write32(arg, 1);
  return 0;
}

/**
 * set_trap_table's walk: `read` takes the entry at each address (null at the terminating address 0)
 * until the end; an unterminated list goes on as a continuation after 256 entries, as Xen preempts it.
 */
export function walkTrapTable(
  ctx: { continueWith(args: number[]): void }, traps: unknown[], inRange: (linear: number, length: number) => boolean,
  table: number, size: number, read: (at: number) => boolean,
): number {
  // A null pointer clears the table.
  if (table === 0) {
    traps.fill(null);
    return 0;
  }
  for (let i = 0; ; i++) {
    const at = table + i * size;
    if (i === 256) {
      ctx.continueWith([at]);
      return 0;
    }
    if (!inRange(at, size)) return EFAULT;
    if (!read(at)) return 0;
  }
}

/**
 * set_gdt(frame_list, entries): up to 14 pages of guest descriptors below the reserved entries,
 * the list's words read by `read` (`word` bytes each); -EINVAL when a frame cannot be a GDT page.
 */
export function setGdtCall(
  ctx: BatchContext & { readonly domain: { setGdt(frames: number[], entries: number): boolean } },
  inRange: (linear: number, length: number) => boolean, list: number, entries: number, word: number, read: (at: number) => number,
): number {
  const { domain } = ctx;
  if (entries > FIRST_RESERVED_GDT_ENTRY) {
    domain.refuse();
    return EINVAL;
  }
  const pages = Math.ceil(entries / 512);
  if (!inRange(list, pages * word)) return EFAULT;
  const frames: number[] = [];
  try {
    for (let i = 0; i < pages; i++) frames.push(read(list + i * word));
  } catch (error) {
    if (!(error instanceof GuestFault)) throw error;
    return EFAULT;
  }
  const ok = domain.setGdt(frames, entries);
  if (!ok) domain.refuse();
  settle(ctx);
  return ok ? 0 : EINVAL;
}

/** How one ABI reads and writes its multicall entries {op, result, args[6]} and runs a sub-call. */
export interface MulticallLayout<C> {
  readonly entrySize: number;
  /** Runs entry `at`'s call in `inner` (the op already counted); returns its result. */
  call(inner: C, at: number, op: number): number;
  /** A continued sub-call's arguments back into its entry. */
  writeArgs(at: number, values: readonly number[]): void;
  writeResult(at: number, result: number): void;
}

/**
 * multicall: no nesting (Xen: "multicall reentry is invalid"); a continuation every PREEMPT_BATCH
 * entries; a sub-call that continues itself rewrites its entry's arguments and the multicall
 * continues from that entry, as Xen translates a sub-call continuation.
 */
export function multicall<C extends {
  readonly nested: boolean;
  readonly domain: { readonly access: { read32(linear: number): number }; count(name: string): void; countHypercall(nr: number): void; stop: unknown };
  continueWith(args: number[]): void;
}>(ctx: C, inRange: (linear: number, length: number) => boolean, list: number, count: number, layout: MulticallLayout<C>): number {
  const { domain } = ctx;
  if (ctx.nested) return EINVAL;
  if (!inRange(list, count * layout.entrySize)) return EFAULT;
  domain.count('multicall batches');
  const continued: { args: number[] | null } = { args: null };
  const inner: C = { ...ctx, nested: true, continueWith: (args: number[]) => { continued.args = args; } };
  for (let i = 0; i < count; i++) {
    const at = list + i * layout.entrySize;
    if (i === PREEMPT_BATCH) {
      ctx.continueWith([at, count - i]);
      return 0;
    }
    const op = domain.access.read32(at);
    domain.countHypercall(op);
    continued.args = null;
    const result = layout.call(inner, at, op);
    const rest = continued.args as number[] | null;
    if (rest !== null) {
      layout.writeArgs(at, rest);
      ctx.continueWith([at, count - i]);
      return 0;
    }
    layout.writeResult(at, result);
    if (domain.stop !== null) break;
  }
  return 0;
}

/** Where gnttab_setup_table keeps its frame list (the one grant structure whose layout differs). */
export interface GrantLayout {
  /** sizeof(struct gnttab_setup_table). */
  readonly setupSize: number;
  /** Offset of the frame_list handle, and the size of a handle and of a xen_pfn_t. */
  readonly listAt: number;
  readonly wordSize: 4 | 8;
}

/** x86-32: {u16 dom; u32 nr_frames @4; s16 status @8; handle frame_list @12}, 4-byte frames. */
export const GRANT_LAYOUT_32: GrantLayout = { setupSize: 16, listAt: 12, wordSize: 4 };
/** x86-64: the handle at 16 (8-byte aligned), 8-byte frames. */
export const GRANT_LAYOUT_64: GrantLayout = { setupSize: 24, listAt: 16, wordSize: 8 };

/** What grant_table_op needs of a domain, 32- or 64-bit (64-bit values below 2^53, as frame numbers are). */
export interface GrantHost {
  readonly access: {
    read16(linear: number): number;
    read32(linear: number): number;
    write16(linear: number, value: number): void;
    write32(linear: number, value: number): void;
  };
  refuse(): void;
}

/**
 * grant_table_op: setup_table and query_size for the guest's own table; map/unmap of grants from
 * other domains (the only other domain is this hypervisor's back end, which grants nothing).
 */
export function grantTableOp(
  domain: GrantHost, grants: GrantTable, rangeOk: (linear: number, length: number) => boolean,
  layout: GrantLayout, cmd: number, uop: number, count: number,
): number {
  const access = domain.access;
  count >>>= 0;
  // query_size {u16 dom; u32 nr_frames @4; u32 max_nr_frames @8; s16 status @12}; map and unmap below.
  const sizes: Record<number, number> = {
    [GNTTABOP_setup_table]: layout.setupSize, [GNTTABOP_query_size]: 16, [GNTTABOP_map_grant_ref]: 32, [GNTTABOP_unmap_grant_ref]: 24,
  };
  const size = sizes[cmd];
  if (size === undefined) return ENOSYS;
  if (count > 512) return EINVAL;
  if (!rangeOk(uop, count * size)) return EFAULT;
  const word = layout.wordSize;
  // A pointer: an x86-64 one is signed (the kernel's are in the upper half).
  const readWord = (at: number) => (word === 8 ? (access.read32(at + 4) | 0) * 2 ** 32 : 0) + access.read32(at);
  for (let i = 0; i < count; i++) {
    const at = uop + i * size;
    switch (cmd) {
      case GNTTABOP_setup_table: {
        const dom = access.read16(at);
        const nr = access.read32(at + 4);
        const list = readWord(at + layout.listAt);
        let status = GNTST_okay;
        if (dom !== DOMID_SELF && dom !== GUEST_DOMID) status = GNTST_permission_denied;
        else {
          const frames = grants.setup(nr);
          if (typeof frames === 'number') status = frames;
          else {
            if (!rangeOk(list, frames.length * word)) return EFAULT;
            frames.forEach((frame, k) => {
              access.write32(list + k * word, frame);
              if (word === 8) access.write32(list + k * word + 4, 0);
            });
          }
        }
        access.write16(at + 8, status & 0xffff);
        break;
      }
      case GNTTABOP_query_size: {
        const dom = access.read16(at);
        const ok = dom === DOMID_SELF || dom === GUEST_DOMID;
        access.write32(at + 4, grants.frames);
        access.write32(at + 8, grants.maxFrames);
        access.write16(at + 12, (ok ? GNTST_okay : GNTST_bad_domain) & 0xffff);
        break;
      }
      case GNTTABOP_map_grant_ref: {
        // {u64 host_addr; u32 flags; u32 ref; u16 dom @16; s16 status @18; u32 handle; u64 dev_bus_addr}
        const dom = access.read16(at + 16);
        access.write16(at + 18, (dom === 0 ? GNTST_bad_gntref : GNTST_bad_domain) & 0xffff);
        domain.refuse();
        break;
      }
      case GNTTABOP_unmap_grant_ref:
        // {u64 host_addr; u64 dev_bus_addr; u32 handle @16; s16 status @20}: no handle was ever given.
        access.write16(at + 20, GNTST_bad_handle & 0xffff);
        domain.refuse();
        break;
    }
  }
  return 0;
}
