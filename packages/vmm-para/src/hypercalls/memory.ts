// mmu_update, update_va_mapping, mmuext_op, set_gdt, update_descriptor, memory_op: the page-table
// and descriptor-table hypercalls, with Xen 3's x86_32 results (any refused item: -EINVAL and the
// count done so far; a bad guest pointer: -EFAULT).
import {
  EFAULT, EINVAL, ENOSYS, FIRST_XEN_L2_SLOT, MMU_MACHPHYS_UPDATE, MMU_NORMAL_PT_UPDATE, MMU_PT_UPDATE_PRESERVE_AD, MMUEXT_INVLPG_ALL, MMUEXT_INVLPG_LOCAL, MMUEXT_INVLPG_MULTI, MMUEXT_NEW_BASEPTR, MMUEXT_PIN_L1_TABLE, MMUEXT_PIN_L2_TABLE, MMUEXT_TLB_FLUSH_ALL, MMUEXT_TLB_FLUSH_LOCAL, MMUEXT_TLB_FLUSH_MULTI, MMUEXT_UNPIN_TABLE, PAGE_SIZE, UVMF_FLUSHTYPE_MASK, UVMF_INVLPG, UVMF_TLB_FLUSH, XENMEM_current_reservation, XENMEM_maximum_ram_page, XENMEM_maximum_reservation, XENMEM_memory_map,
} from '../abi.js';
import {
  checkDescriptor,
} from '../descriptors.js';
import {
  TYPE_L1, TYPE_L2, TYPE_SEGDESC, TYPE_WRITABLE, pinTable, unpinTable,
} from '../frames.js';
import {
  GuestFault, rangeOk,
} from '../guest-access.js';
import {
  batch, memoryMap, reservation, setGdtCall, settle,
} from './common.js';
import {
  type HypercallContext,
} from './context.js';

const MMU_UPDATE_SIZE = 16;
const MMUEXT_OP_SIZE = 12;

export function mmuUpdate(ctx: HypercallContext, reqs: number, rawCount: number, pdone: number, foreigndom: number): number {
  const { domain } = ctx;
  return batch(ctx, rangeOk, reqs, rawCount, pdone, foreigndom, MMU_UPDATE_SIZE, (at) => {
    const ptrLo = domain.access.read32(at);
    const ptrHi = domain.access.read32(at + 4);
    const val = domain.access.read32(at + 8);
    const cmd = ptrLo & 3;
    // A machine address above 4 GiB names no frame of this domain.
    if (ptrHi !== 0) return false;
    if (cmd === MMU_NORMAL_PT_UPDATE || cmd === MMU_PT_UPDATE_PRESERVE_AD) {
      return domain.tables.normalUpdate(ptrLo & ~3, val, cmd === MMU_PT_UPDATE_PRESERVE_AD);
    }
    if (cmd !== MMU_MACHPHYS_UPDATE) return false;
    const mfn = ptrLo >>> 12;
    if (!domain.tables.frames.ownedByDomain(mfn)) return false;
    domain.tables.frames.m2p[mfn] = val | 0;
    return true;
  });
}

/** update_va_mapping(va, pte, pte_hi, flags): the L1 entry that maps `va` in the current address space. */
export function updateVaMapping(ctx: HypercallContext, va: number, val: number, valHi: number, flags: number): number {
  const { domain } = ctx;
  va >>>= 0;
  // Non-PAE entries are 32 bits: Xen truncates the 64-bit value, so `valHi` is ignored.
  void valHi;
  if ((va >>> 22) >= FIRST_XEN_L2_SLOT) {
    domain.refuse();
    return EINVAL;
  }
  const l2 = domain.baseptr;
  const pde = domain.memory.read32(l2 * PAGE_SIZE + (va >>> 22) * 4) >>> 0;
  const l1 = pde >>> 12;
  if ((pde & 1) === 0 || domain.tables.frames.type[l1] !== TYPE_L1) {
    domain.refuse();
    return EINVAL;
  }
  if (!domain.tables.modL1(l1, (va >>> 12) & 0x3ff, val >>> 0)) {
    domain.refuse();
    settle(ctx);
    return EINVAL;
  }
  const frames = domain.tables.frames;
  switch (flags & UVMF_FLUSHTYPE_MASK) {
    case UVMF_TLB_FLUSH:
      frames.typeDropped = false;
      domain.flushTlb();
      break;
    case UVMF_INVLPG:
      domain.invalidatePage(va);
      break;
    default:
      break;
  }
  settle(ctx);
  return 0;
}

export function mmuextOp(ctx: HypercallContext, ops: number, rawCount: number, pdone: number, foreigndom: number): number {
  const { domain } = ctx;
  const frames = domain.tables.frames;
  return batch(ctx, rangeOk, ops, rawCount, pdone, foreigndom, MMUEXT_OP_SIZE, (at) => {
    const cmd = domain.access.read32(at);
    const arg1 = domain.access.read32(at + 4);
    switch (cmd) {
      case MMUEXT_PIN_L1_TABLE:
      case MMUEXT_PIN_L2_TABLE:
        return pinTable(frames, arg1, cmd === MMUEXT_PIN_L1_TABLE ? TYPE_L1 : TYPE_L2);
      case MMUEXT_UNPIN_TABLE:
        return unpinTable(frames, arg1);
      case MMUEXT_NEW_BASEPTR: {
        if (!frames.ownedByDomain(arg1) || !frames.getType(arg1, TYPE_L2)) return false;
        const old = domain.baseptr;
        domain.loadBaseptr(arg1);
        if (old >= 0) frames.putType(old);
        return true;
      }
      case MMUEXT_TLB_FLUSH_LOCAL:
      case MMUEXT_TLB_FLUSH_ALL:
        frames.typeDropped = false;
        domain.flushTlb();
        return true;
      case MMUEXT_INVLPG_LOCAL:
      case MMUEXT_INVLPG_ALL:
        domain.invalidatePage(arg1);
        return true;
      case MMUEXT_TLB_FLUSH_MULTI:
      case MMUEXT_INVLPG_MULTI: {
        // arg2 points at a bitmap of vCPUs (one bit per vCPU up to max_vcpus, in 32-bit words):
        // unreadable, the op is refused (Xen's vcpumask_to_pcpumask). Every vCPU flushes, never less than asked.
        const mask = domain.access.read32(at + 8);
        try {
          for (let word = 0; word * 32 < ctx.smp.maxVcpus; word++) domain.access.read32(mask + word * 4);
        } catch (error) {
          if (error instanceof GuestFault) return false;
          throw error;
        }
        if (cmd === MMUEXT_TLB_FLUSH_MULTI) {
          frames.typeDropped = false;
          domain.flushTlb();
        } else if (rangeOk(arg1, 1)) domain.invalidatePage(arg1);
        return true;
      }
      default:
        return false;
    }
  });
}

/** set_gdt(frame_list, entries): up to 14 pages of guest descriptors below the reserved entries. */
export function setGdt(ctx: HypercallContext, frameList: number, entries: number): number {
  return setGdtCall(ctx, rangeOk, frameList, entries >>> 0, 4, (at) => ctx.domain.access.read32(at));
}

/** update_descriptor(maddr lo, hi, desc lo, hi): one descriptor, checked, into a GDT page or a plain page. */
export function updateDescriptor(ctx: HypercallContext, paLo: number, paHi: number, lo: number, hi: number): number {
  const { domain } = ctx;
  const frames = domain.tables.frames;
  const mfn = paLo >>> 12;
  const checked = checkDescriptor(lo, hi);
  if (paHi !== 0 || (paLo & 7) !== 0 || !frames.ownedByDomain(mfn) || checked === null) {
    domain.refuse();
    return EINVAL;
  }
  const type = frames.type[mfn] === TYPE_SEGDESC ? TYPE_SEGDESC : TYPE_WRITABLE;
  if (!frames.getType(mfn, type)) {
    domain.refuse();
    return EINVAL;
  }
  domain.memory.write32(paLo >>> 0, checked[0]);
  domain.memory.write32((paLo >>> 0) + 4, checked[1]);
  frames.putType(mfn);
  settle(ctx);
  return 0;
}

/** memory_op: the reservation queries and the guest's memory map (one RAM range of its pages). */
export function memoryOp(ctx: HypercallContext, cmd: number, arg: number): number {
  const { domain } = ctx;
  const pages = domain.p2m.length;
  try {
    switch (cmd) {
      case XENMEM_maximum_ram_page:
        return domain.tables.frames.frames - 1;
      case XENMEM_current_reservation:
      case XENMEM_maximum_reservation:
        return reservation(ctx, arg, pages);
      case XENMEM_memory_map:
        // struct xen_memory_map {unsigned int nr_entries; handle buffer}: one e820 RAM entry.
        return memoryMap(ctx, rangeOk, arg, domain.access.read32(arg + 4), pages);
      default:
        return ENOSYS;
    }
  } catch (error) {
    if (!(error instanceof GuestFault)) throw error;
    return EFAULT;
  }
}
