// Drives a built domain's hypercalls directly, as its guest would issue them, with arguments in
// guest memory (a scratch area in the boot mapping's spare space): for hostile tests.
import { createHash } from 'node:crypto';
import type { PhysicalMemory } from '@ringvisor/mmu';
import { START_INFO } from '../src/abi.js';
import type { Domain } from '../src/domain.js';
import type { PvGuest } from '../src/pv-guest.js';
import { OWNER_NONE } from '../src/frames.js';
import type { BootedGuest } from './pv-harness.js';

export class DirectDomain {
  readonly guest: PvGuest;
  readonly domain: Domain;
  readonly memory: PhysicalMemory;
  /** A writable scratch page (guest linear) and a second one after it. */
  readonly scratch: number;
  readonly startInfo: number;

  constructor(readonly booted: BootedGuest) {
    this.guest = booted.pv as PvGuest;
    this.domain = this.guest.domain;
    this.memory = this.domain.memory;
    const regs = booted.vcpu.getRegisters();
    this.startInfo = regs.esi;
    this.scratch = regs.esp + 0x10000;
  }

  call(nr: number, ...args: number[]): number {
    const result = this.guest.hypercall(nr, [...args, 0, 0, 0, 0, 0, 0].slice(0, 6).map((a) => a >>> 0));
    if (typeof result !== 'number') throw new Error('unexpected continuation');
    return result;
  }

  put32(va: number, ...values: number[]): void {
    values.forEach((v, i) => this.domain.access.write32(va + i * 4, v >>> 0));
  }

  get32(va: number): number {
    return this.domain.access.read32(va);
  }

  startInfo32(offset: number): number {
    return this.get32(this.startInfo + offset);
  }

  /** Machine frame of the page directory and of the L1 mapping the kernel's first 4 MiB. */
  get l2(): number {
    return this.domain.baseptr;
  }

  get l1(): number {
    return (this.memory.read32(this.l2 * 4096 + (0xc0000000 >>> 22) * 4) >>> 12);
  }

  /** Machine address of the L1 entry that maps `va` (in the first 4 MiB of the kernel mapping). */
  pteAddress(va: number): number {
    return this.l1 * 4096 + ((va >>> 12) & 0x3ff) * 4;
  }

  pte(va: number): number {
    return this.memory.read32(this.pteAddress(va)) >>> 0;
  }

  /** mmu_update with requests [ptr, val] placed at the scratch page. */
  mmuUpdate(requests: [number, number][], done = 0, foreign = 0x7ff0): number {
    requests.forEach(([ptr, val], i) => this.put32(this.scratch + i * 16, ptr, 0, val, 0));
    return this.call(1, this.scratch, requests.length, done, foreign);
  }

  mmuext(ops: [number, number][]): number {
    ops.forEach(([cmd, arg], i) => this.put32(this.scratch + i * 12, cmd, arg, 0));
    return this.call(26, this.scratch, ops.length, 0, 0x7ff0);
  }

  get storeMfn(): number {
    return this.startInfo32(START_INFO.storeMfn);
  }

  get consoleMfn(): number {
    return this.startInfo32(START_INFO.consoleMfn);
  }
}

/**
 * A digest of every machine frame the domain does not own except the pages it shares with the
 * hypervisor by design (shared_info, grant table) and the hypervisor's L1, which set_gdt rewrites
 * to map the guest's GDT frames: the canary that nothing outside the domain changed.
 */
export function outsideDigest(domain: Domain): string {
  const hash = createHash('sha256');
  const frames = domain.tables.frames;
  const page = new Uint8Array(4096);
  for (let mfn = 0; mfn < frames.frames; mfn++) {
    if (frames.owner[mfn] !== OWNER_NONE || mfn === domain.hv.hvL1) continue;
    domain.memory.readBytes(mfn * 4096, page);
    hash.update(page);
  }
  return hash.digest('hex');
}

/** Fills the hypervisor's unused low frames with a pattern, so that a stray write shows. */
export function paintCanary(domain: Domain): void {
  const page = new Uint8Array(4096).fill(0xa5);
  const frames = domain.tables.frames;
  for (let mfn = 0; mfn < 256; mfn++) if (frames.owner[mfn] === OWNER_NONE) domain.memory.writeBytes(mfn * 4096, page);
}
