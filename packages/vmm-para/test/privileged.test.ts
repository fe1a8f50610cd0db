import { describe, expect, it } from 'vitest';
import { DirectDomain, outsideDigest, paintCanary } from './direct-domain.js';
import { PRIVILEGED_GUEST } from './guests/privileged-guest.js';
import { assembleGuest, bootGuest, haveToolchain, symbol } from './pv-harness.js';

describe.skipIf(!haveToolchain())('privileged instructions at ring 1', () => {
  it('fault to the guest kernel as on a real CPU and leave the hypervisor untouched', () => {
    const image = assembleGuest(PRIVILEGED_GUEST);
    const booted = bootGuest(image);
    const d = new DirectDomain(booted);
    paintCanary(d.domain);
    const canary = outsideDigest(d.domain);
    expect(booted.run()).toMatchObject({ reason: 'shutdown', cause: 'power-off' });
    const idx = d.get32(symbol(image, 'idx'));
    const codes = Array.from({ length: idx }, (_, i) => d.get32(symbol(image, 'codes') + i * 4));
    // DS limit below the hypervisor, LGDT, INT 0x81 (no gate for it), CLI, IN, MOV CR3, HLT, a far
    // jump to the hypervisor's code selector, its data selector into DS, its ring-1 code into SS,
    // the hypervisor's area; SYSENTER (the CPU reports SEP, but the hypervisor's IA32_SYSENTER_CS is
    // 0, as 32-bit Xen leaves it without supervisor_mode_kernel) and WRMSR of that MSR: #GP(0).
    expect(codes).toEqual([0, 0, 0x81 * 8 + 2, 0, 0, 0, 0, 0xe008, 0xe010, 0xe018, 0, 0, 0]);
    expect(outsideDigest(d.domain)).toBe(canary);
  });
});
