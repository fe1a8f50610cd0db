// Whether this KVM runs 32-bit paged guests. A nested paravirtual KVM (kvm_pvm) opens like any
// other but drops CR0.PG outside long mode, and a guest that sets PG itself takes #GP: every
// bundled 32-bit kernel pages, so callers that boot one ask here first and say why not.
import type { SpecialRegisters, VmSpec } from '@ringvisor/vmm-api';
import { KvmModeError } from '../vcpu.js';
import { HwVm } from '../vm.js';
import { KvmSystem } from './system.js';

const CR0_PE = 1 << 0;
const CR0_ET = 1 << 4;
const CR0_PG = 1 << 31;
const RAM = 0x10000;
/** A page directory of zeroes: nothing runs, the mode only has to be accepted. */
const PAGE_DIRECTORY = 0x1000;

let cached: string | null | undefined;

const idle = { read: () => 0xffffffff, write: () => undefined };

function probeSpec(): VmSpec {
  return {
    regions: [{ base: 0, size: RAM }], io: idle, mmio: idle,
    interrupts: { pending: () => false, acknowledge: () => 0 },
    clock: { kind: 'host', now: () => 0, schedule: () => 0, cancel: () => undefined },
    stats: { byReason: new Map(), byPort: new Map(), count: () => undefined },
  };
}

function flat(sregs: SpecialRegisters): SpecialRegisters {
  const code = { ...sregs.cs, base: 0, limit: 0xffffffff, selector: 8, access: 0xc09b };
  const data = { ...sregs.ds, base: 0, limit: 0xffffffff, selector: 16, access: 0xc093 };
  return {
    ...sregs, cs: code, ds: data, es: data, fs: data, gs: data, ss: data,
    cr0: (CR0_PE | CR0_ET | CR0_PG) >>> 0, cr3: PAGE_DIRECTORY, cr4: 0, efer: 0,
  };
}

/** null when KVM opens and takes CR0.PG in 32-bit protected mode; else why not (one line). Probed once. */
export function kvmPagingUnsupportedReason(): string | null {
  if (cached !== undefined) return cached;
  const kvm = KvmSystem.open();
  if (typeof kvm === 'string') return (cached = kvm);
  let vm: HwVm;
  try {
    vm = new HwVm(kvm, probeSpec());
  } catch (error) {
    kvm.close();
    return (cached = `KVM could not create a probe VM: ${(error as Error).message}`);
  }
  try {
    const vcpu = vm.createVcpu(0);
    vcpu.setSpecialRegisters(flat(vcpu.getSpecialRegisters()));
    cached = null;
  } catch (error) {
    if (!(error instanceof KvmModeError)) throw error;
    cached = `this KVM does not run 32-bit paged guests (it kept CR0.PG clear in protected mode, as the nested kvm_pvm does)`;
  } finally {
    vm.destroy();
  }
  return cached;
}
