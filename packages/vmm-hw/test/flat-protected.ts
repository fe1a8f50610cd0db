// The entry state the VMX tests share: flat 32-bit protected mode, paging off unless `cr3` is used,
// with the GDT at 0x1000 (null, code 0x08, data 0x10, ...) and the IDT at 0x2000.
import type { SpecialRegisters } from '@ringvisor/vmm-api';

const flat = (selector: number, access: number) => ({ selector, base: 0, limit: 0xffffffff, access });

export function flatProtectedMode(gdtLimit: number, cr3: number): SpecialRegisters {
  return {
    cs: flat(0x08, 0xc09b), ds: flat(0x10, 0xc093), es: flat(0x10, 0xc093), fs: flat(0x10, 0xc093),
    gs: flat(0x10, 0xc093), ss: flat(0x10, 0xc093),
    tr: { selector: 0, base: 0, limit: 0xffff, access: 0x8b }, ldt: { selector: 0, base: 0, limit: 0, access: 0x10000 },
    gdt: { base: 0x1000, limit: gdtLimit }, idt: { base: 0x2000, limit: 0x7ff },
    cr0: 0x11, cr2: 0, cr3, cr4: 0, efer: 0,
  };
}
