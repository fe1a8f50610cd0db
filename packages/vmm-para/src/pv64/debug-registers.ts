// A 64-bit PV vCPU's debug registers, as Xen's set_debugreg/get_debugreg keep them: DR0-DR3 any
// guest address (not the hypervisor's range or a non-canonical one: -EPERM), DR6 and DR7 32-bit
// values with their reserved bits forced, DR4/DR5 aliases of DR6/DR7 unless CR4.DE (then -ENODEV),
// I/O breakpoints in DR7 only with CR4.DE. x86-core raises no breakpoint from them (it has no
// DR0-DR3 matching), so they are state the kernel saves and restores, not yet traps.
import { EINVAL, ENODEV, EPERM } from '../abi.js';
import { HYPERVISOR_VIRT_END } from './abi.js';

/** DR6's and DR7's values at reset. */
const DR6_DEFAULT = 0xffff0ff0;
const DR7_DEFAULT = 0x400;
/** DR6: B0-B3, BD, BS, BT are the guest's; the rest reads as DR6_DEFAULT (no RTM here). */
const DR6_GUEST_BITS = 0xe00f;
/** DR7: bits 11, 12, 14 and 15 read as 0, bit 10 as 1. */
const DR7_ZERO_BITS = 0xd800;
const DR7_ENABLES = 0xff;
const RW_IO = 2;
const CR4_DE = 8;

export class DebugRegisters {
  private readonly address = [0, 0, 0, 0];
  private dr6 = DR6_DEFAULT;
  private dr7 = DR7_DEFAULT;

  /** set_debugreg(reg, value); `value` is the signed 64-bit argument as a number (exact for canonical addresses). */
  set(reg: number, value: number, hiWord: number, cr4: number): number {
    switch (reg) {
      case 0: case 1: case 2: case 3:
        // Xen's access_ok: below 2^47, or at or above the end of its own range (0xffff880000000000, signed here).
        if (!(value >= 0 && value < 2 ** 47) && !(value < 0 && value >= HYPERVISOR_VIRT_END)) return EPERM;
        this.address[reg] = value;
        return 0;
      case 4: case 6:
        if (reg === 4 && (cr4 & CR4_DE) !== 0) return ENODEV;
        if (hiWord !== 0) return EINVAL;
        this.dr6 = ((value & DR6_GUEST_BITS) | DR6_DEFAULT) >>> 0;
        return 0;
      case 5: case 7: {
        if (reg === 5 && (cr4 & CR4_DE) !== 0) return ENODEV;
        if (hiWord !== 0) return EINVAL;
        const dr7 = ((value & ~DR7_ZERO_BITS) | DR7_DEFAULT) >>> 0;
        if ((dr7 & DR7_ENABLES) !== 0 && (cr4 & CR4_DE) === 0) {
          for (let i = 0; i < 4; i++) if (((dr7 >>> (16 + 4 * i)) & 3) === RW_IO) return EPERM;
        }
        this.dr7 = dr7;
        return 0;
      }
      default:
        return ENODEV;
    }
  }

  /** get_debugreg(reg): the value, or Xen's error for a register that is not there. */
  get(reg: number, cr4: number): number {
    switch (reg) {
      case 0: case 1: case 2: case 3: return this.address[reg];
      case 4: case 6: return reg === 4 && (cr4 & CR4_DE) !== 0 ? ENODEV : this.dr6;
      case 5: case 7: return reg === 5 && (cr4 & CR4_DE) !== 0 ? ENODEV : this.dr7;
      default: return EINVAL;
    }
  }
}
