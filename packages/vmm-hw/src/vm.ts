// A KVM VM: its fd, its memory slots (one per vmm-api region), the Intel-required TSS and
// identity-map pages, and its vCPUs.
import type { GuestMemory, MemoryRegionSpec, Vcpu, Vm, VmSpec } from '@ringvisor/vmm-api';
import {
  KVM_CAP_IMMEDIATE_EXIT, KVM_CAP_READONLY_MEM, KVM_CAP_SET_IDENTITY_MAP_ADDR, KVM_CAP_SET_TSS_ADDR,
  KVM_CREATE_VCPU, KVM_MEM_READONLY, KVM_SET_CPUID2, KVM_SET_IDENTITY_MAP_ADDR, KVM_SET_MSRS,
  KVM_SET_TSS_ADDR, KVM_SET_USER_MEMORY_REGION, MISC_ENABLE_FAST_STRING, MSR_CSTAR, MSR_IA32_MISC_ENABLE,
  MSR_IA32_SYSENTER_CS, MSR_IA32_SYSENTER_EIP, MSR_IA32_SYSENTER_ESP, MSR_KERNEL_GS_BASE, MSR_LSTAR,
  MSR_STAR, MSR_SYSCALL_MASK,
} from './kvm/constants.js';
import { KVM_MSR_ENTRY, KVM_MSRS, KVM_USERSPACE_MEMORY_REGION } from './kvm/layout.js';
import { MAP_FAILED, MAP_SHARED, PROT_READ, PROT_WRITE } from './kvm/libc.js';
import { check, KvmError, KvmSystem } from './kvm/system.js';
import { HwGuestMemory, MappedRegion } from './memory.js';
import { HwVcpu, type VcpuContext } from './vcpu.js';

/**
 * Intel VMX cannot run real mode natively without "unrestricted guest"; KVM then needs three pages
 * of guest-physical space for a TSS (KVM_SET_TSS_ADDR) and one for an identity-mapped page table
 * (KVM_SET_IDENTITY_MAP_ADDR), in a hole of the memory map below 4 GiB.
 */
const KVM_PRIVATE_PAGES = 4 * 4096;
const KVM_PRIVATE_TOP = 0xfffbc000; // just below a 256 KiB BIOS image at the top of 4 GiB, as is usual

/** MSR values a freshly reset CPU (or a boot loader) leaves: fast strings on, syscall entry points zero. */
const BOOT_MSRS: readonly (readonly [number, bigint])[] = [
  [MSR_IA32_SYSENTER_CS, 0n], [MSR_IA32_SYSENTER_ESP, 0n], [MSR_IA32_SYSENTER_EIP, 0n],
  [MSR_STAR, 0n], [MSR_LSTAR, 0n], [MSR_CSTAR, 0n], [MSR_SYSCALL_MASK, 0n], [MSR_KERNEL_GS_BASE, 0n],
  [MSR_IA32_MISC_ENABLE, BigInt(MISC_ENABLE_FAST_STRING)],
];

function overlaps(a: number, aSize: number, b: number, bSize: number): boolean {
  return a < b + bSize && b < a + aSize;
}

/** The highest 16 KiB window at or below KVM_PRIVATE_TOP that no region of the memory map uses. */
function privatePagesBase(regions: readonly MemoryRegionSpec[]): number {
  for (let base = KVM_PRIVATE_TOP; base >= 0; base -= KVM_PRIVATE_PAGES) {
    if (!regions.some((r) => overlaps(base, KVM_PRIVATE_PAGES, r.base, r.size))) return base;
  }
  throw new RangeError('no 16 KiB hole below 4 GiB for KVM\'s real-mode TSS and identity map');
}

export class HwVm implements Vm {
  readonly memory: GuestMemory;
  /** ROM regions are read-only slots (KVM_CAP_READONLY_MEM); false means the guest can write its ROM. */
  readonly readOnlyRom: boolean;
  private readonly regions: MappedRegion[] = [];
  private readonly vcpus: HwVcpu[] = [];
  private readonly ctx: VcpuContext;
  private readonly fd: number;
  private destroyed = false;

  constructor(private readonly kvm: KvmSystem, spec: VmSpec) {
    const libc = kvm.libc;
    this.readOnlyRom = kvm.capability(KVM_CAP_READONLY_MEM) > 0;
    this.fd = kvm.createVm();
    try {
      this.setPrivatePages(spec.regions);
      this.mapRegions(spec.regions);
    } catch (err) {
      this.destroy();
      throw err;
    }
    this.memory = new HwGuestMemory(this.regions);
    const roms = this.regions.filter((r) => r.readOnly);
    this.ctx = {
      libc, io: spec.io, mmio: spec.mmio, interrupts: spec.interrupts, stats: spec.stats,
      isRom: (address) => {
        // A loop, not roms.some(): this runs on every MMIO write exit and must not allocate.
        for (const rom of roms) if (rom.contains(address, 1)) return true;
        return false;
      },
    };
  }

  private setPrivatePages(regions: readonly MemoryRegionSpec[]): void {
    const libc = this.kvm.libc;
    const base = privatePagesBase(regions);
    if (this.kvm.capability(KVM_CAP_SET_IDENTITY_MAP_ADDR)) {
      const arg = new Uint8Array(8);
      new DataView(arg.buffer).setBigUint64(0, BigInt(base), true);
      check(libc, 'KVM_SET_IDENTITY_MAP_ADDR', libc.ioctl(this.fd, KVM_SET_IDENTITY_MAP_ADDR, arg));
    }
    if (this.kvm.capability(KVM_CAP_SET_TSS_ADDR)) {
      check(libc, 'KVM_SET_TSS_ADDR', libc.ioctlValue(this.fd, KVM_SET_TSS_ADDR, base + 4096));
    }
  }

  private mapRegions(specs: readonly MemoryRegionSpec[]): void {
    const libc = this.kvm.libc;
    specs.forEach((spec, i) => {
      const other = specs.findIndex((o, j) => j < i && overlaps(o.base, o.size, spec.base, spec.size));
      if (other >= 0) throw new RangeError(`memory regions ${other} and ${i} overlap`);
      const region = MappedRegion.map(libc, spec);
      this.regions.push(region);
      const arg = new Uint8Array(KVM_USERSPACE_MEMORY_REGION.size);
      const d = new DataView(arg.buffer);
      d.setUint32(KVM_USERSPACE_MEMORY_REGION.slot, i, true);
      d.setUint32(KVM_USERSPACE_MEMORY_REGION.flags, region.readOnly && this.readOnlyRom ? KVM_MEM_READONLY : 0, true);
      d.setBigUint64(KVM_USERSPACE_MEMORY_REGION.guest_phys_addr, BigInt(region.base), true);
      d.setBigUint64(KVM_USERSPACE_MEMORY_REGION.memory_size, BigInt(region.size), true);
      d.setBigUint64(KVM_USERSPACE_MEMORY_REGION.userspace_addr, region.hostAddress, true);
      check(libc, 'KVM_SET_USER_MEMORY_REGION', libc.ioctl(this.fd, KVM_SET_USER_MEMORY_REGION, arg));
    });
  }

  createVcpu(index: number): Vcpu {
    if (this.destroyed) throw new Error('VM was destroyed');
    const libc = this.kvm.libc;
    const fd = check(libc, 'KVM_CREATE_VCPU', libc.ioctlValue(this.fd, KVM_CREATE_VCPU, index));
    const size = this.kvm.vcpuMmapSize;
    const run = libc.mmap(size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (run === MAP_FAILED) {
      const errno = libc.errno();
      libc.close(fd);
      throw new KvmError('mmap kvm_run', errno, libc.strerror(errno));
    }
    let vcpu: HwVcpu;
    try {
      vcpu = new HwVcpu(this.ctx, index, fd, run, size, this.kvm.capability(KVM_CAP_IMMEDIATE_EXIT) > 0);
    } catch (err) {
      libc.munmap(run, size);
      libc.close(fd);
      throw err;
    }
    try {
      // Without CPUID leaves from the host, the guest sees no long mode, no PAE, no APIC.
      check(libc, 'KVM_SET_CPUID2', libc.ioctl(fd, KVM_SET_CPUID2, this.kvm.supportedCpuid()));
      this.setBootMsrs(fd);
    } catch (err) {
      // Half made: nobody gets it, so its fd and run page go now, not when the VM does.
      vcpu.destroy();
      throw err;
    }
    this.vcpus.push(vcpu);
    return vcpu;
  }

  private setBootMsrs(fd: number): void {
    const libc = this.kvm.libc;
    const arg = new Uint8Array(KVM_MSRS.header + BOOT_MSRS.length * KVM_MSR_ENTRY.size);
    const d = new DataView(arg.buffer);
    d.setUint32(KVM_MSRS.nmsrs, BOOT_MSRS.length, true);
    BOOT_MSRS.forEach(([index, value], i) => {
      const at = KVM_MSRS.header + i * KVM_MSR_ENTRY.size;
      d.setUint32(at + KVM_MSR_ENTRY.index, index, true);
      d.setBigUint64(at + KVM_MSR_ENTRY.data, value, true);
    });
    const written = check(libc, 'KVM_SET_MSRS', libc.ioctl(fd, KVM_SET_MSRS, arg));
    if (written !== BOOT_MSRS.length) {
      const [index] = BOOT_MSRS[written];
      throw new KvmError('KVM_SET_MSRS', 0, `KVM refused MSR 0x${index.toString(16)}`);
    }
  }

  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    for (const vcpu of this.vcpus) vcpu.destroy();
    this.kvm.libc.close(this.fd);
    for (const region of this.regions) region.release();
    this.kvm.close();
  }
}
