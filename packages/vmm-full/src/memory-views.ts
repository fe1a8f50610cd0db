// The two guest-physical views of host memory: one for loaders and device DMA, one for the virtual
// CPU the VMM emulates instructions on. Neither reaches the VMM's frames above guest RAM.
import { KIND_RAM_CODE, KIND_UNMAPPED, PAGE_SHIFT, type PhysicalMemory, type ShadowPaging } from '@ringvisor/mmu';
import type { AccessSize, GuestMemory } from '@ringvisor/vmm-api';

const FOUR_GIB = 0x1_0000_0000;

/**
 * Guest memory for loaders and DMA: RAM below `ramEnd`, ROM and MMIO as on the board; the VMM's
 * frames read as an undriven bus (all ones) and ignore writes.
 */
export class GuestView implements GuestMemory {
  constructor(private readonly host: PhysicalMemory, readonly ramEnd: number) {}

  private vmm(address: number, length: number): boolean {
    return address + length > this.ramEnd && address < FOUR_GIB && this.host.kind[Math.min(address, FOUR_GIB - 1) >>> PAGE_SHIFT] <= KIND_RAM_CODE;
  }

  private inside(address: number, length: number): boolean {
    return Number.isInteger(address) && Number.isInteger(length) && address >= 0 && length >= 0 && address + length <= this.ramEnd;
  }

  read8(address: number): number { return this.vmm(address, 1) ? 0xff : this.host.read8(address); }
  read16(address: number): number { return this.vmm(address, 2) ? 0xffff : this.host.read16(address); }
  read32(address: number): number { return this.vmm(address, 4) ? 0xffffffff : this.host.read32(address); }
  write8(address: number, value: number): void { if (!this.vmm(address, 1)) this.host.write8(address, value); }
  write16(address: number, value: number): void { if (!this.vmm(address, 2)) this.host.write16(address, value); }
  write32(address: number, value: number): void { if (!this.vmm(address, 4)) this.host.write32(address, value); }

  readBytes(address: number, into: Uint8Array): boolean {
    return this.inside(address, into.length) && this.host.readBytes(address, into);
  }

  writeBytes(address: number, from: Uint8Array): boolean {
    return this.inside(address, from.length) && this.host.writeBytes(address, from);
  }

  view(address: number, length: number): Uint8Array | null {
    return this.inside(address, length) ? this.host.view(address, length) : null;
  }

  notifyWrite(address: number, length: number): void {
    if (this.inside(address, length)) this.host.notifyWrite(address, length);
  }
}

/**
 * Guest-physical memory as the virtual CPU sees it (x86-core's `CpuMemory`): guest RAM is read in
 * place but every store goes through the shadow pager's `guestWrite`, so stores into traced
 * page tables update the shadows and stores into translated code reach the TC's invalidation; the
 * VMM's frames are a hole. It has no code-write detection, so that CPU caches no decoded code.
 */
export class VirtualCpuMemory {
  readonly ram: Uint8Array;
  readonly kind: Uint8Array;

  constructor(private readonly host: PhysicalMemory, private readonly shadow: ShadowPaging, private readonly ramEnd: number) {
    this.ram = host.ram;
    this.kind = new Uint8Array(host.kind.length);
    this.refresh();
    host.onLayoutChange(() => this.refresh());
  }

  /** Guest RAM reads in place, writes through `write`; the VMM's frames are unmapped. */
  private refresh(): void {
    const kind = this.kind;
    kind.set(this.host.kind);
    const vmmFirst = Math.ceil(this.ramEnd / 4096);
    for (let page = 0; page < kind.length; page++) {
      if (kind[page] <= KIND_RAM_CODE) kind[page] = page < vmmFirst ? KIND_RAM_CODE : KIND_UNMAPPED;
    }
  }

  read(address: number, size: AccessSize): number {
    const a = address >>> 0;
    if (a < FOUR_GIB && this.kind[a >>> PAGE_SHIFT] === KIND_UNMAPPED && this.host.kind[a >>> PAGE_SHIFT] <= KIND_RAM_CODE) {
      return size === 1 ? 0xff : size === 2 ? 0xffff : 0xffffffff;
    }
    return this.host.read(address, size);
  }

  write(address: number, size: AccessSize, value: number): void {
    const a = address >>> 0;
    if (a + size <= this.ramEnd) {
      if ((a >>> PAGE_SHIFT) === ((a + size - 1) >>> PAGE_SHIFT)) this.shadow.guestWrite(a, size, value);
      else for (let i = 0; i < size; i++) this.shadow.guestWrite(a + i, 1, value >>> (8 * i));
      return;
    }
    this.shadow.tables.write(address, size, value);
  }
}
