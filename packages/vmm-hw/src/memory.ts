// Guest RAM and ROM as host mappings (MAP_SHARED | MAP_ANONYMOUS) that KVM runs the guest on and
// devices read and write through zero-copy koffi views of the very same bytes.
import type { GuestMemory, MemoryRegionSpec } from '@ringvisor/vmm-api';
import { KvmError } from './kvm/system.js';
import {
  MAP_ANONYMOUS, MAP_FAILED, MAP_FIXED, MAP_NORESERVE, MAP_PRIVATE, MAP_SHARED, PROT_READ, PROT_WRITE, type Libc,
} from './kvm/libc.js';

const PAGE_SIZE = 4096;

/**
 * Mappings whose JS views may outlive the VM. A koffi view does not own its memory, so unmapping
 * while a device still holds `memory.view()` would turn its next access into a host crash: the
 * address range is unmapped only once the garbage collector has dropped every view of it.
 */
const unmapWhenUnreachable = new FinalizationRegistry<{ libc: Libc; address: bigint; size: number }>(
  ({ libc, address, size }) => { libc.munmap(address, size); },
);

/** One region of guest-physical memory backed by its own host mapping. */
export class MappedRegion {
  readonly end: number;
  readonly bytes: Uint8Array;
  readonly data: DataView;
  /** Set by release(): the guest is gone and the region no longer answers for its addresses. */
  released = false;

  private constructor(
    private readonly libc: Libc,
    readonly base: number,
    readonly size: number,
    readonly hostAddress: bigint,
    readonly readOnly: boolean,
  ) {
    this.end = base + size;
    const view = libc.koffi.view(hostAddress, size);
    this.bytes = new Uint8Array(view);
    this.data = new DataView(view);
    unmapWhenUnreachable.register(view, { libc, address: hostAddress, size });
  }

  static map(libc: Libc, spec: MemoryRegionSpec): MappedRegion {
    const { base, size, rom } = spec;
    if (!Number.isSafeInteger(base) || !Number.isSafeInteger(size) || size <= 0 || base % PAGE_SIZE !== 0 || size % PAGE_SIZE !== 0) {
      // KVM maps whole pages: a size rounded up would hand the guest bytes that the ROM check and
      // the device views do not cover.
      throw new RangeError(`memory region at ${base} size ${size}: KVM needs a page-aligned base and a positive multiple of 4 KiB`);
    }
    if (rom && rom.length > size) throw new RangeError(`ROM at ${base.toString(16)}h: ${rom.length} bytes do not fit in ${size}`);
    const address = libc.mmap(size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (address === MAP_FAILED) {
      const errno = libc.errno();
      throw new KvmError('mmap', errno, `guest memory of ${size} bytes: ${libc.strerror(errno)}`);
    }
    let region: MappedRegion;
    try {
      region = new MappedRegion(libc, base, size, address, rom !== undefined);
    } catch (err) {
      libc.munmap(address, size); // no view was made: nothing can still reach the pages
      throw err;
    }
    if (rom) region.bytes.set(rom);
    return region;
  }

  contains(address: number, length: number): boolean {
    return !this.released && address >= this.base && address + length <= this.end;
  }

  /**
   * Frees the guest's pages now by mapping fresh, unreserved private pages over them in place:
   * views still held read zeros and write into scratch pages instead of faulting.
   */
  release(): void {
    if (this.released) return;
    this.released = true;
    this.libc.mmap(this.size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0, this.hostAddress);
  }
}

/**
 * vmm-api GuestMemory over the mapped regions. Every access is bounds-checked (the address comes
 * from the guest); reads see RAM and ROM, writes land only in RAM, as the guest's own would.
 */
export class HwGuestMemory implements GuestMemory {
  readonly ramEnd: number;

  constructor(private readonly regions: readonly MappedRegion[]) {
    this.ramEnd = regions.reduce((end, r) => (r.readOnly ? end : Math.max(end, r.end)), 0);
  }

  private find(address: number, length: number, write: boolean): MappedRegion | undefined {
    if (!Number.isSafeInteger(address) || address < 0) return undefined;
    for (const r of this.regions) {
      if (r.contains(address, length)) return write && r.readOnly ? undefined : r;
    }
    return undefined;
  }

  read8(address: number): number {
    const r = this.find(address, 1, false);
    return r ? r.bytes[address - r.base] : 0xff;
  }

  read16(address: number): number {
    const r = this.find(address, 2, false);
    return r ? r.data.getUint16(address - r.base, true) : 0xffff;
  }

  read32(address: number): number {
    const r = this.find(address, 4, false);
    return r ? r.data.getUint32(address - r.base, true) : 0xffff_ffff;
  }

  write8(address: number, value: number): void {
    const r = this.find(address, 1, true);
    if (r) r.bytes[address - r.base] = value;
  }

  write16(address: number, value: number): void {
    const r = this.find(address, 2, true);
    if (r) r.data.setUint16(address - r.base, value, true);
  }

  write32(address: number, value: number): void {
    const r = this.find(address, 4, true);
    if (r) r.data.setUint32(address - r.base, value >>> 0, true);
  }

  readBytes(address: number, into: Uint8Array): boolean {
    const r = this.find(address, into.length, false);
    if (!r || r.readOnly) return false;
    into.set(r.bytes.subarray(address - r.base, address - r.base + into.length));
    return true;
  }

  writeBytes(address: number, from: Uint8Array): boolean {
    const r = this.find(address, from.length, true);
    if (!r) return false;
    r.bytes.set(from, address - r.base);
    return true;
  }

  view(address: number, length: number): Uint8Array | null {
    const r = this.find(address, length, true);
    return r && length >= 0 ? r.bytes.subarray(address - r.base, address - r.base + length) : null;
  }

  /** KVM runs the guest on these very bytes and caches no decoded code: nothing to invalidate. */
  notifyWrite(_address: number, _length: number): void {}
}
