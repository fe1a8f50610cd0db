import { describe, expect, it } from 'vitest';
import { KVM_SREGS } from '../src/kvm/layout.js';
import { decodeSpecialRegisters, encodeSpecialRegisters } from '../src/registers.js';

describe('kvm_sregs through the vmm-api view', () => {
  it('gives back every 64-bit field exactly when the caller hands back what it read', () => {
    // A 64-bit guest chooses its segment and table bases (WRMSR FS_BASE, LGDT); above 2^53 a number
    // cannot hold them, so get -> set must not round them: 0xffff_ffff_ffff_ffff would become 0.
    const sregs = new Uint8Array(KVM_SREGS.size);
    const d = new DataView(sregs.buffer);
    d.setBigUint64(KVM_SREGS.fs, 0xffff_ffff_ffff_ffffn, true);
    d.setBigUint64(KVM_SREGS.gs, 0xffff_8880_7fc1_2345n, true);
    d.setBigUint64(KVM_SREGS.gdt, 0xffff_fe00_0000_1001n, true);
    d.setBigUint64(KVM_SREGS.cr3, 0x1_2345_6789_a000n, true);
    d.setBigUint64(KVM_SREGS.cr0, 0x8005_0033n, true);
    const before = sregs.slice();
    encodeSpecialRegisters(d, decodeSpecialRegisters(d));
    expect([...sregs]).toEqual([...before]);
  });

  it('still writes a field the caller changed, zero-extending 32-bit bitwise results', () => {
    const sregs = new Uint8Array(KVM_SREGS.size);
    const d = new DataView(sregs.buffer);
    d.setBigUint64(KVM_SREGS.fs, 0xffff_ffff_ffff_ffffn, true);
    const s = decodeSpecialRegisters(d);
    encodeSpecialRegisters(d, { ...s, fs: { ...s.fs, base: 0x1000 }, cr0: 1 << 31 });
    expect(d.getBigUint64(KVM_SREGS.fs, true)).toBe(0x1000n);
    expect(d.getBigUint64(KVM_SREGS.cr0, true)).toBe(0x8000_0000n);
  });
});
