// The domain builder (libxc's xc_dom_* for a non-PAE x86_32 guest): gives the domain its frames,
// loads the kernel at VIRT_BASE, and lays out after it, page-aligned and in this order, the
// mfn_list, start_info, the xenstore and console pages, the boot page tables (L2 then L1s, mapped
// read-only) and one stack page, all mapped from VIRT_BASE with at least 512 KiB to spare. The
// page directory is validated and pinned like any other (the L1s too), then loaded into CR3.
import type { SegmentState, SpecialRegisters, Registers } from '@ringvisor/vmm-api';
import {
  FIRST_XEN_L2_SLOT, FLAT_RING1_CS, FLAT_RING1_DS, HYPERVISOR_VIRT_START, MAX_GUEST_CMDLINE, PAGE_SIZE, PTE_A, PTE_D,
  PTE_P, PTE_RW, PTE_US, SHARED_INFO, START_INFO, START_INFO_MAGIC,
} from './abi.js';
import { hiddenOf, RESERVED_DESCRIPTORS } from './descriptors.js';
import type { Domain } from './domain.js';
import { TYPE_L1, TYPE_L2 } from './frames.js';
import { GDT_VIRT, HYPERVISOR_LOW_FRAMES, IDT_VIRT } from './layout.js';
import { parseXenElf, XenElfError } from './xen-elf.js';

const PADDING = 512 * 1024;
const L1_PROT = PTE_P | PTE_RW | PTE_A;
const L2_PROT = PTE_P | PTE_RW | PTE_A | PTE_D | PTE_US;

export interface BuiltDomain {
  readonly regs: Registers;
  readonly sregs: SpecialRegisters;
  /** Machine frames of the xenstore and console pages. */
  readonly storeMfn: number;
  readonly consoleMfn: number;
  readonly startInfoVirt: number;
  /** Where the start_info event-channel fields are, to fill in once the ports exist. */
  readonly startInfoMachine: number;
}

/** The domain's frames: every RAM frame between the hypervisor's low memory and its top frames. */
function domainFrames(domain: Domain): number[] {
  const frames: number[] = [];
  for (let mfn = HYPERVISOR_LOW_FRAMES; mfn < domain.hv.first; mfn++) {
    if (domain.memory.view(mfn * PAGE_SIZE, PAGE_SIZE) !== null) frames.push(mfn);
  }
  return frames;
}

export function buildDomain(domain: Domain, image: Uint8Array, cmdline: string): BuiltDomain {
  const elf = parseXenElf(image);
  const memory = domain.memory;
  const virtBase = elf.virtBase >>> 0;
  if (elf.start < virtBase || elf.end > HYPERVISOR_VIRT_START) {
    throw new XenElfError(`kernel segments 0x${elf.start.toString(16)}-0x${elf.end.toString(16)} lie outside VIRT_BASE..hypervisor`);
  }
  const mfns = domainFrames(domain);
  const nrPages = mfns.length;
  domain.p2m = Int32Array.from(mfns);
  for (let pfn = 0; pfn < nrPages; pfn++) {
    domain.assign(mfns[pfn]);
    domain.tables.frames.m2p[mfns[pfn]] = pfn;
  }
  const pageUp = (v: number) => Math.ceil(v / PAGE_SIZE) * PAGE_SIZE;
  // Virtual layout after the kernel.
  const kernelEnd = pageUp(elf.end);
  const mfnListVirt = kernelEnd;
  const startInfoVirt = pageUp(mfnListVirt + nrPages * 4);
  const storeVirt = startInfoVirt + PAGE_SIZE;
  const consoleVirt = storeVirt + PAGE_SIZE;
  const ptVirt = consoleVirt + PAGE_SIZE;
  // Enough L1s to map everything up to the stack plus padding (the tables map themselves).
  let l1Count = 1;
  for (;;) {
    const mappedEnd = ptVirt + (1 + l1Count) * PAGE_SIZE + PAGE_SIZE + PADDING;
    const needed = Math.ceil((mappedEnd - ((virtBase & ~0x3fffff) >>> 0)) / (4 << 20));
    if (needed <= l1Count) break;
    l1Count = needed;
  }
  const stackVirt = ptVirt + (1 + l1Count) * PAGE_SIZE;
  const mapEnd = stackVirt + PAGE_SIZE + PADDING;
  const lastPfn = (mapEnd - virtBase) / PAGE_SIZE;
  if (lastPfn > nrPages) throw new XenElfError(`the kernel and its boot data need ${lastPfn * 4} KiB; the domain has ${nrPages * 4} KiB`);
  if ((mapEnd >>> 22) >= FIRST_XEN_L2_SLOT || mapEnd > HYPERVISOR_VIRT_START) throw new XenElfError('the boot mappings reach the hypervisor region');
  const machine = (virt: number) => mfns[(virt - virtBase) / PAGE_SIZE] * PAGE_SIZE;
  const machineOf = (virt: number) => mfns[Math.floor((virt - virtBase) / PAGE_SIZE)] * PAGE_SIZE + (virt & 0xfff);

  // The kernel's segments (zeros beyond the file bytes: RAM starts zeroed).
  for (const segment of elf.segments) {
    let done = 0;
    while (done < segment.data.length) {
      const virt = segment.vaddr + done;
      const n = Math.min(segment.data.length - done, PAGE_SIZE - (virt & 0xfff));
      memory.writeBytes(machineOf(virt), segment.data.subarray(done, done + n));
      done += n;
    }
  }
  if (elf.hypercallPage !== null) writeHypercallPage(domain, machine((elf.hypercallPage & ~0xfff) >>> 0));

  // mfn_list.
  for (let pfn = 0; pfn < nrPages; pfn++) memory.write32(machineOf(mfnListVirt + pfn * 4), mfns[pfn]);

  // Page tables: L2 then L1s. Every page up to mapEnd is mapped; the tables themselves read-only.
  const l2 = machine(ptVirt) / PAGE_SIZE;
  const firstSlot = virtBase >>> 22;
  for (let i = 0; i < l1Count; i++) {
    const l1 = machine(ptVirt + (1 + i) * PAGE_SIZE) / PAGE_SIZE;
    memory.write32(l2 * PAGE_SIZE + (firstSlot + i) * 4, (l1 * PAGE_SIZE) | L2_PROT);
  }
  const ptEnd = ptVirt + (1 + l1Count) * PAGE_SIZE;
  for (let virt = virtBase; virt < mapEnd; virt += PAGE_SIZE) {
    const slot = virt >>> 22;
    const l1 = machine(ptVirt + (1 + slot - firstSlot) * PAGE_SIZE) / PAGE_SIZE;
    const readOnly = virt >= ptVirt && virt < ptEnd;
    memory.write32(l1 * PAGE_SIZE + ((virt >>> 12) & 0x3ff) * 4, machine(virt) | (readOnly ? L1_PROT & ~PTE_RW : L1_PROT));
  }
  const frames = domain.tables.frames;
  for (let i = 0; i < l1Count; i++) {
    const l1 = machine(ptVirt + (1 + i) * PAGE_SIZE) / PAGE_SIZE;
    if (!frames.getType(l1, TYPE_L1)) throw new Error('the boot L1 table failed validation');
    frames.pinned[l1] = 1;
  }
  if (!frames.getType(l2, TYPE_L2)) throw new Error('the boot page directory failed validation');
  frames.pinned[l2] = 1;
  // CR3 holds its own reference, as Xen's guest_table does.
  frames.getType(l2, TYPE_L2);
  domain.loadBaseptr(l2);

  // start_info.
  const si = machine(startInfoVirt);
  memory.writeBytes(si + START_INFO.magic, new TextEncoder().encode(START_INFO_MAGIC));
  memory.write32(si + START_INFO.nrPages, nrPages);
  memory.write32(si + START_INFO.sharedInfo, domain.sharedInfoBase);
  memory.write32(si + START_INFO.storeMfn, machine(storeVirt) / PAGE_SIZE);
  memory.write32(si + START_INFO.consoleMfn, machine(consoleVirt) / PAGE_SIZE);
  memory.write32(si + START_INFO.ptBase, ptVirt);
  memory.write32(si + START_INFO.nrPtFrames, 1 + l1Count);
  memory.write32(si + START_INFO.mfnList, mfnListVirt);
  const cmd = new TextEncoder().encode(cmdline).subarray(0, MAX_GUEST_CMDLINE - 1);
  memory.writeBytes(si + START_INFO.cmdLine, cmd);

  // Events start masked.
  memory.write8(domain.sharedInfoBase + SHARED_INFO.upcallMask, 1);

  const flat = (selector: number): SegmentState => {
    const [, lo, hi] = RESERVED_DESCRIPTORS.find(([s]) => s === selector)!;
    const hidden = hiddenOf(lo, hi);
    return { selector, base: hidden.base, limit: hidden.limit, access: hidden.access };
  };
  const unusable: SegmentState = { selector: 0, base: 0, limit: 0, access: 0x10000 };
  const sregs: SpecialRegisters = {
    cs: flat(FLAT_RING1_CS), ds: flat(FLAT_RING1_DS), es: flat(FLAT_RING1_DS), ss: flat(FLAT_RING1_DS),
    fs: unusable, gs: unusable,
    // No TSS the guest could use: I/O at ring 1 finds no permission bitmap and raises #GP.
    tr: { selector: 0, base: 0, limit: 0, access: 0x8b },
    ldt: unusable,
    gdt: { base: GDT_VIRT, limit: 0xffff },
    idt: { base: IDT_VIRT, limit: 0x7ff },
    // PE, MP, ET, NE, WP (ring-1 writes honour read-only pages), PG.
    cr0: 0x80010033, cr2: 0, cr3: l2 * PAGE_SIZE, cr4: 0, efer: 0,
  };
  const regs: Registers = {
    eax: 0, ebx: 0, ecx: 0, edx: 0, ebp: 0, edi: 0,
    esi: startInfoVirt, esp: stackVirt + PAGE_SIZE, eip: elf.entry >>> 0, eflags: 0x202,
  };
  return {
    regs, sregs, storeMfn: machine(storeVirt) / PAGE_SIZE, consoleMfn: machine(consoleVirt) / PAGE_SIZE,
    startInfoVirt, startInfoMachine: si,
  };
}

/** Entry n at offset n*32: `mov $n,%eax; int $0x82; ret`; iret's entry pushes EAX first and never returns. */
function writeHypercallPage(domain: Domain, page: number): void {
  const memory = domain.memory;
  for (let n = 0; n < PAGE_SIZE / 32; n++) {
    const at = page + n * 32;
    const code = n === 23
      ? [0x50, 0xb8, n, 0, 0, 0, 0xcd, 0x82]
      : [0xb8, n, 0, 0, 0, 0xcd, 0x82, 0xc3];
    memory.writeBytes(at, Uint8Array.from(code));
  }
}
