// The domain builder for a 64-bit PV guest (libxc's xc_dom_* for x86_64): the domain owns every RAM
// frame between the hypervisor's low memory and its top frames (pfn 0 is mfn 256, so a guest must
// use its p2m list); the kernel's segments go where their p_paddr puts them from VIRT_BASE; after
// the kernel, page-aligned and in this order: the initrd, the p2m list (unless INIT_P2M places it
// elsewhere), start_info, the xenstore and console pages, the boot page tables (L4, then L3s, L2s,
// L1s; mapped read-only), one stack page, and with INIT_P2M the p2m list's frames. VIRT_BASE is
// mapped to a 4 MiB boundary at least 512 KiB past the stack, as libxc counts it: an INIT_P2M list
// is mapped at its own address, and its frames in the kernel's range only where they fall below
// that boundary (Linux frees the start-of-day range by 2 MiB blocks up to the p2m's first frame
// and the boot tables' 4 MiB boundary; a wider range would stay mapped, writable and executable).
// The L4 is validated (and with it every table under it) and pinned.
import type { PhysicalMemory } from '@ringvisor/mmu';
import { MAX_GUEST_CMDLINE, PAGE_SIZE, PTE_A, PTE_D, PTE_P, PTE_RW, PTE_US } from '../abi.js';
import { TYPE_L4 } from '../frames.js';
import { HYPERVISOR_LOW_FRAMES } from '../layout.js';
import { XenElfError } from '../xen-elf.js';
import { START_INFO_64, START_INFO_MAGIC_64 } from './abi.js';
import type { Domain64 } from './domain.js';
import type { XenElf64Image } from './xen-elf64.js';

const PADDING = 512 * 1024;
const FOUR_MIB = 4 << 20;
const TWO_32 = 0x1_0000_0000;
const TWO_48 = 2 ** 48;
const TABLE_PROT = PTE_P | PTE_RW | PTE_A | PTE_D | PTE_US;
const LEAF_PROT = PTE_P | PTE_RW | PTE_A | PTE_US;

export interface Built64 {
  readonly entry: number;
  readonly stackTop: number;
  readonly startInfo: number;
  readonly startInfoMachine: number;
  readonly storeMfn: number;
  readonly consoleMfn: number;
  /** The boot layout, virtual addresses (for tests and the README's description). */
  readonly layout: {
    readonly mfnList: number;
    readonly ptBase: number;
    readonly ptFrames: number;
    readonly modStart: number;
    readonly mapEnd: number;
  };
}

/** Page-table pages a mapping of [start, end) needs at each level below the L4 (L3s, L2s, L1s). */
function tablesFor(start: number, end: number): [number, number, number] {
  const span = (shift: number) => Math.floor((end - 1) / 2 ** shift) - Math.floor(start / 2 ** shift) + 1;
  return [span(39), span(30), span(21)];
}

/** Unsigned view of a canonical address, for the table indices. */
const unsigned48 = (v: number) => (v < 0 ? v + TWO_48 : v);

/** The machine address of a guest virtual address in one of the builder's mappings. */
type Resolve = (virt: number) => number;

export function buildDomain64(domain: Domain64, elf: XenElf64Image, cmdline: string, initrd: Uint8Array | null): Built64 {
  const memory = domain.memory;
  const mfns: number[] = [];
  for (let mfn = HYPERVISOR_LOW_FRAMES; mfn < domain.hv.first; mfn++) if (memory.view(mfn * PAGE_SIZE, PAGE_SIZE) !== null) mfns.push(mfn);
  const nrPages = mfns.length;
  const virtBase = elf.virtBase;
  const pageUp = (v: number) => Math.ceil(v / PAGE_SIZE) * PAGE_SIZE;
  if (elf.kernelEnd - virtBase > nrPages * PAGE_SIZE) {
    throw new XenElfError(`the kernel needs ${Math.ceil((elf.kernelEnd - virtBase) / 1024)} KiB from VIRT_BASE; the domain has ${nrPages * 4} KiB`);
  }

  // The virtual layout after the kernel.
  let alloc = pageUp(elf.kernelEnd);
  const modStart = initrd ? alloc : 0;
  if (initrd) alloc += pageUp(initrd.length);
  const p2mBytes = pageUp(nrPages * 8);
  const separateP2m = elf.p2mBase !== null;
  const mfnListVirt = separateP2m ? elf.p2mBase! : alloc;
  if (!separateP2m) alloc += p2mBytes;
  const startInfoVirt = alloc;
  const storeVirt = startInfoVirt + PAGE_SIZE;
  const consoleVirt = storeVirt + PAGE_SIZE;
  const ptVirt = consoleVirt + PAGE_SIZE;
  // Enough tables for everything up to the padding's end; they map themselves, so iterate.
  let ptFrames = 1;
  let mapEnd = 0;
  let stackVirt = 0;
  let p2mVirtInKernel = 0;
  for (;;) {
    stackVirt = ptVirt + ptFrames * PAGE_SIZE;
    p2mVirtInKernel = stackVirt + PAGE_SIZE;
    mapEnd = Math.ceil((p2mVirtInKernel + PADDING - virtBase) / FOUR_MIB) * FOUR_MIB + virtBase;
    const kernelTables = tablesFor(unsigned48(virtBase), unsigned48(mapEnd));
    const p2mTables = separateP2m ? tablesFor(unsigned48(mfnListVirt), unsigned48(mfnListVirt + p2mBytes)) : [0, 0, 0];
    const needed = 1 + kernelTables.reduce((a, b) => a + b) + p2mTables.reduce((a, b) => a + b);
    if (needed <= ptFrames) break;
    ptFrames = needed;
  }
  const usedPages = Math.max((mapEnd - virtBase) / PAGE_SIZE, (p2mVirtInKernel - virtBase + (separateP2m ? p2mBytes : 0)) / PAGE_SIZE);
  if (usedPages > nrPages) throw new XenElfError(`the kernel and its boot data need ${usedPages * 4} KiB; the domain has ${nrPages * 4} KiB`);
  const kernelMachine: Resolve = (virt) => mfns[Math.floor((virt - virtBase) / PAGE_SIZE)] * PAGE_SIZE + (virt % PAGE_SIZE + PAGE_SIZE) % PAGE_SIZE;
  const p2mFirstPfn = (p2mVirtInKernel - virtBase) / PAGE_SIZE;
  const p2mMachine: Resolve = separateP2m
    ? (virt) => mfns[p2mFirstPfn + Math.floor((virt - mfnListVirt) / PAGE_SIZE)] * PAGE_SIZE + ((virt - mfnListVirt) % PAGE_SIZE)
    : kernelMachine;

  // Frames and the M2P the guest reads.
  domain.p2m = Int32Array.from(mfns);
  for (let pfn = 0; pfn < nrPages; pfn++) {
    domain.assign(mfns[pfn]);
    domain.setM2p(mfns[pfn], pfn);
  }

  // The kernel's segments (RAM starts zeroed, so memSize beyond the file bytes is zeros).
  const kernelOffset = elf.kernelStart - virtBase;
  for (const segment of elf.segments) writeVirtual(memory, kernelMachine, virtBase + kernelOffset + segment.offset, segment.data);
  if (elf.hypercallPage !== null) writeHypercallPage64(memory, kernelMachine(elf.hypercallPage));
  if (initrd) writeVirtual(memory, kernelMachine, modStart, initrd);

  // The p2m list: one 8-byte mfn per pfn.
  for (let pfn = 0; pfn < nrPages; pfn++) memory.write32(p2mMachine(mfnListVirt + pfn * 8), mfns[pfn]);

  // Page tables.
  const ptEnd = ptVirt + ptFrames * PAGE_SIZE;
  let nextTable = ptVirt;
  const newTable = () => {
    const frame = kernelMachine(nextTable) / PAGE_SIZE;
    nextTable += PAGE_SIZE;
    return frame;
  };
  const l4 = newTable();
  const tables = new Map<string, number>();
  const tableFor = (parent: number, level: number, index: number, key: string) => {
    let frame = tables.get(key);
    if (frame === undefined) {
      frame = newTable();
      tables.set(key, frame);
      memory.write32(parent * PAGE_SIZE + index * 8, frame * PAGE_SIZE + TABLE_PROT);
    }
    void level;
    return frame;
  };
  const map = (virt: number, machine: number, writable: boolean) => {
    const u = unsigned48(virt);
    const i4 = Math.floor(u / 2 ** 39) % 512;
    const i3 = Math.floor(u / 2 ** 30) % 512;
    const i2 = Math.floor(u / 2 ** 21) % 512;
    const i1 = Math.floor(u / 2 ** 12) % 512;
    const l3 = tableFor(l4, 3, i4, `${i4}`);
    const l2 = tableFor(l3, 2, i3, `${i4}/${i3}`);
    const l1 = tableFor(l2, 1, i2, `${i4}/${i3}/${i2}`);
    memory.write32(l1 * PAGE_SIZE + i1 * 8, machine + (writable ? LEAF_PROT : LEAF_PROT & ~PTE_RW));
  };
  for (let virt = virtBase; virt < mapEnd; virt += PAGE_SIZE) map(virt, kernelMachine(virt), virt < ptVirt || virt >= ptEnd);
  if (separateP2m) for (let off = 0; off < p2mBytes; off += PAGE_SIZE) map(mfnListVirt + off, p2mMachine(mfnListVirt + off), true);
  if (nextTable > ptEnd) throw new Error('the boot page tables outgrew their count');
  const frames = domain.tables.frames;
  if (!frames.getType(l4, TYPE_L4)) throw new Error('the boot L4 failed validation');
  frames.pinned[l4] = 1;
  // The vCPU's kernel base holds its own reference, as Xen's guest_table does.
  frames.getType(l4, TYPE_L4);
  domain.kernelBase = l4;
  domain.loadAddressSpace();

  // start_info.
  const si = kernelMachine(startInfoVirt);
  const put64 = (offset: number, value: number) => {
    const hi = Math.floor(value / TWO_32);
    memory.write32(si + offset, value - hi * TWO_32);
    memory.write32(si + offset + 4, hi);
  };
  memory.writeBytes(si + START_INFO_64.magic, new TextEncoder().encode(START_INFO_MAGIC_64));
  put64(START_INFO_64.nrPages, nrPages);
  put64(START_INFO_64.sharedInfo, domain.sharedInfoBase);
  put64(START_INFO_64.storeMfn, kernelMachine(storeVirt) / PAGE_SIZE);
  put64(START_INFO_64.consoleMfn, kernelMachine(consoleVirt) / PAGE_SIZE);
  put64(START_INFO_64.ptBase, ptVirt);
  put64(START_INFO_64.nrPtFrames, ptFrames);
  put64(START_INFO_64.mfnList, mfnListVirt);
  put64(START_INFO_64.modStart, modStart);
  put64(START_INFO_64.modLen, initrd ? initrd.length : 0);
  memory.writeBytes(si + START_INFO_64.cmdLine, new TextEncoder().encode(cmdline).subarray(0, MAX_GUEST_CMDLINE - 1));
  if (separateP2m) {
    put64(START_INFO_64.firstP2mPfn, p2mFirstPfn);
    put64(START_INFO_64.nrP2mFrames, p2mBytes / PAGE_SIZE);
  }
  return {
    entry: elf.entry, stackTop: stackVirt + PAGE_SIZE, startInfo: startInfoVirt, startInfoMachine: si,
    storeMfn: kernelMachine(storeVirt) / PAGE_SIZE, consoleMfn: kernelMachine(consoleVirt) / PAGE_SIZE,
    layout: { mfnList: mfnListVirt, ptBase: ptVirt, ptFrames, modStart, mapEnd },
  };
}

function writeVirtual(memory: PhysicalMemory, resolve: Resolve, virt: number, bytes: Uint8Array): void {
  let done = 0;
  while (done < bytes.length) {
    const at = virt + done;
    const n = Math.min(bytes.length - done, PAGE_SIZE - ((at % PAGE_SIZE) + PAGE_SIZE) % PAGE_SIZE);
    memory.writeBytes(resolve(at), bytes.subarray(done, done + n));
    done += n;
  }
}

/**
 * Xen's 64-bit hypercall page: entry n at n*32 is `push %rcx; push %r11; mov $n,%eax; syscall;
 * pop %r11; pop %rcx; ret` (SYSCALL clobbers RCX and R11); iret's entry pushes RCX, R11 and RAX
 * around the number and never returns.
 */
export function writeHypercallPage64(memory: PhysicalMemory, page: number): void {
  for (let n = 0; n < PAGE_SIZE / 32; n++) {
    const imm = [n, 0, 0, 0];
    const code = n === 23
      ? [0x51, 0x41, 0x53, 0x50, 0xb8, ...imm, 0x0f, 0x05]
      : [0x51, 0x41, 0x53, 0xb8, ...imm, 0x0f, 0x05, 0x41, 0x5b, 0x59, 0xc3];
    memory.writeBytes(page + n * 32, Uint8Array.from(code));
  }
}
