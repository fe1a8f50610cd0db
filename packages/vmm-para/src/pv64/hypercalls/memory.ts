// mmu_update, update_va_mapping, mmuext_op, set_gdt, update_descriptor and memory_op for a 64-bit
// PV guest, with Xen's results (a refused item: -EINVAL and the count done so far; a bad guest
// pointer: -EFAULT; a foreign domain: -EINVAL, the only domain an unprivileged guest names is itself).
import {
  EFAULT, EINVAL, ENOSYS, MMU_MACHPHYS_UPDATE, MMU_NORMAL_PT_UPDATE, MMU_PT_UPDATE_PRESERVE_AD, MMUEXT_INVLPG_ALL, MMUEXT_INVLPG_LOCAL, MMUEXT_INVLPG_MULTI, MMUEXT_NEW_BASEPTR, MMUEXT_PIN_L1_TABLE, MMUEXT_PIN_L4_TABLE, MMUEXT_TLB_FLUSH_ALL, MMUEXT_TLB_FLUSH_LOCAL, MMUEXT_TLB_FLUSH_MULTI, MMUEXT_UNPIN_TABLE, PAGE_SIZE, PTE_P, UVMF_FLUSHTYPE_MASK, UVMF_INVLPG, UVMF_TLB_FLUSH, XENMEM_current_reservation, XENMEM_maximum_ram_page, XENMEM_maximum_reservation, XENMEM_memory_map,
} from '../../abi.js';
import {
  TYPE_L1, TYPE_L2, TYPE_L3, TYPE_L4, TYPE_SEGDESC, TYPE_WRITABLE, type FrameType, pinTable, unpinTable,
} from '../../frames.js';
import {
  GuestFault,
} from '../../guest-access.js';
import {
  batch, memoryMap, reservation, setGdtCall, settle,
} from '../../hypercalls/common.js';
import {
  MACH2PHYS_NR_ENTRIES, MACH2PHYS_VIRT_END, MACH2PHYS_VIRT_START, MMUEXT_CLEAR_PAGE, MMUEXT_COPY_PAGE, MMUEXT_NEW_USER_BASEPTR, MMUEXT_SET_LDT, XENMEM_machphys_mapping,
} from '../abi.js';
import {
  checkDescriptor64,
} from '../descriptors.js';
import {
  rangeOk64,
} from '../guest-access.js';
import {
  entryFrame,
} from '../page-tables.js';
import type {
  Args64, HypercallContext64,
} from './context.js';

const MMU_UPDATE_SIZE = 16;
const MMUEXT_OP_SIZE = 24;
const PIN_TYPES: readonly FrameType[] = [TYPE_L1, TYPE_L2, TYPE_L3, TYPE_L4];

export function mmuUpdate64(ctx: HypercallContext64, a: Args64): number {
  const { domain } = ctx;
  return batch(ctx, rangeOk64, a.num(0), a.u32(1), a.num(2), a.u32(3), MMU_UPDATE_SIZE, (at) => {
    const ptrLo = domain.access.read32(at);
    const ptrHi = domain.access.read32(at + 4);
    const valLo = domain.access.read32(at + 8);
    const valHi = domain.access.read32(at + 12) | 0;
    const cmd = ptrLo & 7;
    // Machine addresses above 4 GiB name no frame of this domain.
    if (ptrHi !== 0) return false;
    const ptr = (ptrLo & ~7) >>> 0;
    if (cmd === MMU_NORMAL_PT_UPDATE || cmd === MMU_PT_UPDATE_PRESERVE_AD) {
      return domain.tables.normalUpdate(ptr, valLo, valHi, cmd === MMU_PT_UPDATE_PRESERVE_AD);
    }
    if (cmd !== MMU_MACHPHYS_UPDATE) return false;
    const mfn = ptr >>> 12;
    if (!domain.tables.frames.ownedByDomain(mfn)) return false;
    domain.setM2p(mfn, valHi * 0x1_0000_0000 + valLo);
    return true;
  });
}

/** The L1 that maps `va` in the current address space, or -1 (not mapped through validated tables). */
function l1For(ctx: HypercallContext64, va: number): number {
  const { domain } = ctx;
  const u = va < 0 ? va + 2 ** 48 : va;
  let table = domain.access.base;
  for (let level = 3; level >= 1; level--) {
    const index = Math.floor(u / 2 ** (12 + 9 * level)) % 512;
    const lo = domain.tables.lo(table, index);
    if ((lo & PTE_P) === 0) return -1;
    table = entryFrame(lo, domain.tables.hi(table, index));
  }
  return domain.tables.frames.type[table] === TYPE_L1 ? table : -1;
}

/** update_va_mapping(va, val, flags): the L1 entry that maps `va`, then the flush `flags` ask for. */
export function updateVaMapping64(ctx: HypercallContext64, a: Args64): number {
  const { domain } = ctx;
  const va = a.num(0);
  if (!rangeOk64(va, 1)) {
    domain.refuse();
    return EINVAL;
  }
  const l1 = l1For(ctx, va);
  const slot = Math.floor((va < 0 ? va + 2 ** 48 : va) / PAGE_SIZE) % 512;
  if (l1 < 0 || !domain.tables.modEntry(l1, slot, a.lo[1] >>> 0, a.hi[1], false)) {
    domain.refuse();
    settle(ctx);
    return EINVAL;
  }
  switch (a.u32(2) & UVMF_FLUSHTYPE_MASK) {
    case UVMF_TLB_FLUSH:
      domain.tables.frames.typeDropped = false;
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

export function mmuextOp64(ctx: HypercallContext64, a: Args64): number {
  const { domain } = ctx;
  const frames = domain.tables.frames;
  return batch(ctx, rangeOk64, a.num(0), a.u32(1), a.num(2), a.u32(3), MMUEXT_OP_SIZE, (at) => {
    const cmd = domain.access.read32(at);
    const arg1 = domain.access.read64(at + 8);
    switch (cmd) {
      case MMUEXT_PIN_L1_TABLE: case MMUEXT_PIN_L1_TABLE + 1: case MMUEXT_PIN_L1_TABLE + 2: case MMUEXT_PIN_L4_TABLE:
        return pinTable(frames, arg1, PIN_TYPES[cmd - MMUEXT_PIN_L1_TABLE]);
      case MMUEXT_UNPIN_TABLE:
        return unpinTable(frames, arg1);
      case MMUEXT_NEW_BASEPTR:
        return domain.newKernelBase(arg1);
      case MMUEXT_NEW_USER_BASEPTR: {
        // 0 drops the user L4 (the kernel's serves both until another is given).
        if (arg1 !== 0 && (!frames.ownedByDomain(arg1) || !frames.getType(arg1, TYPE_L4))) return false;
        const old = domain.userBase;
        domain.userBase = arg1 === 0 ? -1 : arg1;
        if (!domain.kernelMode) domain.loadAddressSpace();
        if (old >= 0) frames.putType(old);
        return true;
      }
      case MMUEXT_TLB_FLUSH_LOCAL: case MMUEXT_TLB_FLUSH_MULTI: case MMUEXT_TLB_FLUSH_ALL:
        frames.typeDropped = false;
        domain.flushTlb();
        return true;
      case MMUEXT_INVLPG_LOCAL: case MMUEXT_INVLPG_MULTI: case MMUEXT_INVLPG_ALL:
        if (!rangeOk64(arg1, 1)) return false;
        domain.invalidatePage(arg1);
        return true;
      case MMUEXT_SET_LDT:
        // An empty LDT only (x86-core's 64-bit mode takes no LDT from a PV guest yet).
        return domain.access.read32(at + 16) === 0;
      case MMUEXT_CLEAR_PAGE: case MMUEXT_COPY_PAGE: {
        if (!frames.ownedByDomain(arg1) || !frames.getType(arg1, TYPE_WRITABLE)) return false;
        let ok = true;
        if (cmd === MMUEXT_CLEAR_PAGE) domain.memory.writeBytes(arg1 * PAGE_SIZE, new Uint8Array(PAGE_SIZE));
        else {
          const src = domain.access.read64(at + 16);
          ok = frames.mappable(src);
          if (ok) {
            const page = new Uint8Array(PAGE_SIZE);
            domain.memory.readBytes(src * PAGE_SIZE, page);
            domain.memory.writeBytes(arg1 * PAGE_SIZE, page);
          }
        }
        frames.putType(arg1);
        return ok;
      }
      default:
        return false;
    }
  });
}

/** set_gdt(frame_list, entries): up to 14 pages of guest descriptors below the reserved entries. */
export function setGdt64(ctx: HypercallContext64, a: Args64): number {
  return setGdtCall(ctx, rangeOk64, a.num(0), a.u32(1), 8, (at) => ctx.domain.access.read64(at));
}

/** update_descriptor(maddr, desc): one checked descriptor into a GDT page or a plain page of the domain. */
export function updateDescriptor64(ctx: HypercallContext64, a: Args64): number {
  const { domain } = ctx;
  const frames = domain.tables.frames;
  const maddr = a.num(0);
  const mfn = Math.floor(maddr / PAGE_SIZE);
  const hi = checkDescriptor64(a.hi[1]);
  if (maddr % 8 !== 0 || !frames.ownedByDomain(mfn) || hi === null) {
    domain.refuse();
    return EINVAL;
  }
  const type = frames.type[mfn] === TYPE_SEGDESC ? TYPE_SEGDESC : TYPE_WRITABLE;
  if (!frames.getType(mfn, type)) {
    domain.refuse();
    return EINVAL;
  }
  domain.memory.write32(maddr, a.lo[1]);
  domain.memory.write32(maddr + 4, hi);
  frames.putType(mfn);
  settle(ctx);
  return 0;
}

/** memory_op: the M2P's place, the reservation queries and the guest's memory map. */
export function memoryOp64(ctx: HypercallContext64, a: Args64): number {
  const { domain } = ctx;
  const pages = domain.p2m.length;
  const arg = a.num(1);
  try {
    switch (a.u32(0)) {
      case XENMEM_maximum_ram_page:
        return domain.tables.frames.frames - 1;
      case XENMEM_machphys_mapping:
        // {unsigned long v_start, v_end, max_mfn}
        domain.access.write64(arg, MACH2PHYS_VIRT_START);
        domain.access.write64(arg + 8, MACH2PHYS_VIRT_END);
        domain.access.write64(arg + 16, MACH2PHYS_NR_ENTRIES - 1);
        return 0;
      case XENMEM_current_reservation:
      case XENMEM_maximum_reservation:
        return reservation(ctx, arg, pages);
      case XENMEM_memory_map:
        // struct xen_memory_map {unsigned int nr_entries; handle buffer}: one e820 RAM entry.
        return memoryMap(ctx, rangeOk64, arg, domain.access.read64(arg + 8), pages);
      default:
        return ENOSYS;
    }
  } catch (error) {
    if (!(error instanceof GuestFault)) throw error;
    return EFAULT;
  }
}
