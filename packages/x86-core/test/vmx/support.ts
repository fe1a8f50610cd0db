import { EPTP_AD, EPTP_WALK_4, EPTP_WB, EPT_EXECUTE, EPT_LARGE, EPT_READ, EPT_WRITE, PhysicalMemory } from '@ringvisor/mmu';
import type { InterruptController, IoBus } from '@ringvisor/vmm-api';
import {
  CPU_ACTIVATE_SECONDARY_CONTROLS, SECONDARY_ENABLE_EPT, SECONDARY_ENABLE_VPID, SECONDARY_UNRESTRICTED_GUEST, VMCS, Vmx,
} from '../../src/index.js';

export const RWX = EPT_READ | EPT_WRITE | EPT_EXECUTE;
export { EPT_READ, EPT_WRITE, EPT_EXECUTE };
/** Guest-physical memory is host-physical + GUEST_OFFSET (EPT maps it there), so a missing EPT shows. */
export const GUEST_OFFSET = 0x400000;
/** Where guest code starts (guest-physical and guest-linear). */
export const CODE = 0x1000;
const EPT_POOL = 0x10000;

/** A port bus that records accesses; reads return `0x40 + port & 0xff`. */
export class RecordingIo implements IoBus {
  readonly log: string[] = [];
  read(port: number, size: number): number {
    this.log.push(`in ${port.toString(16)}/${size}`);
    return (0x40 + port) & 0xff;
  }
  write(port: number, size: number, value: number): void {
    this.log.push(`out ${port.toString(16)}/${size}=${value.toString(16)}`);
  }
}

/**
 * A VMX processor over 16 MiB of host-physical RAM: EPT tables from 0x10000, the guest's 4 MiB of
 * guest-physical RAM at host 0x400000, and a flat 32-bit protected-mode guest (paging off,
 * unrestricted guest, EPT, VPID 1) at CS:EIP = CODE. `start(bytes)` writes code and returns the Vmx.
 */
export class VmxMachine {
  readonly memory = new PhysicalMemory({ regions: [{ base: 0, size: 0x1000000 }] });
  readonly io = new RecordingIo();
  readonly vmx: Vmx;
  private next = EPT_POOL + 0x1000;
  readonly eptRoot = EPT_POOL;

  constructor(options: { hostInterrupts?: InterruptController; compileBlocks?: boolean; ad?: boolean } = {}) {
    this.vmx = new Vmx({ memory: this.memory, io: this.io, hostInterrupts: options.hostInterrupts ?? null, compileBlocks: options.compileBlocks ?? false });
    const v = this.vmx.vmcs;
    v.write(VMCS.PRIMARY_PROCESSOR_CONTROLS, CPU_ACTIVATE_SECONDARY_CONTROLS);
    v.write(VMCS.SECONDARY_PROCESSOR_CONTROLS, SECONDARY_ENABLE_EPT | SECONDARY_UNRESTRICTED_GUEST | SECONDARY_ENABLE_VPID);
    v.write(VMCS.VPID, 1);
    v.write(VMCS.EPT_POINTER, EPT_POOL | EPTP_WB | EPTP_WALK_4 | (options.ad ? EPTP_AD : 0));
    for (let gpa = 0; gpa < 0x400000; gpa += 0x1000) this.map(gpa, gpa + GUEST_OFFSET, RWX);
    this.flat32();
  }

  /** The 4 KiB EPT entry for `gpa` (creating tables), as a host-physical address. */
  pte(gpa: number, level = 1): number {
    let table = EPT_POOL;
    for (let l = 4; l > level; l--) {
      const index = Math.floor(gpa / 2 ** (12 + 9 * (l - 1))) % 512;
      const at = table + index * 8;
      let entry = this.memory.read32(at);
      if ((entry & 7) === 0) {
        entry = this.next | RWX;
        this.next += 0x1000;
        this.memory.write32(at, entry);
      }
      table = entry & ~0xfff;
    }
    return table + (Math.floor(gpa / 2 ** (12 + 9 * (level - 1))) % 512) * 8;
  }

  /** Maps one 4 KiB page (or, with level 2/3, a 2 MiB/1 GiB page) of guest-physical memory. */
  map(gpa: number, hpa: number, rights: number, level = 1, extra = 0): void {
    const at = this.pte(gpa, level);
    this.memory.write32(at, (hpa % 2 ** 32) | rights | (6 << 3) | (level > 1 ? EPT_LARGE : 0) | extra);
    this.memory.write32(at + 4, Math.floor(hpa / 2 ** 32));
  }

  flat32(): void {
    const v = this.vmx.vmcs;
    // GDT at guest-physical 0: null, flat code 0x08, flat data 0x10.
    this.write32(8, 0x0000ffff);
    this.write32(12, 0x00cf9b00);
    this.write32(16, 0x0000ffff);
    this.write32(20, 0x00cf9300);
    v.write(VMCS.GUEST_CR0, 0x31); // PE NE ET
    v.write(VMCS.GUEST_CR3, 0);
    v.write(VMCS.GUEST_CR4, 0);
    for (let i = 0; i < 6; i++) {
      v.write(VMCS.GUEST_ES_SELECTOR + 2 * i, i === 1 ? 0x08 : 0x10);
      v.write(VMCS.GUEST_ES_BASE + 2 * i, 0);
      v.write(VMCS.GUEST_ES_LIMIT + 2 * i, 0xffffffff);
      v.write(VMCS.GUEST_ES_ACCESS_RIGHTS + 2 * i, i === 1 ? 0xc09b : 0xc093);
    }
    v.write(VMCS.GUEST_TR_ACCESS_RIGHTS, 0x8b);
    v.write(VMCS.GUEST_TR_LIMIT, 0x67);
    v.write(VMCS.GUEST_LDTR_ACCESS_RIGHTS, 0x10000);
    v.write(VMCS.GUEST_IDTR_BASE, 0x800);
    v.write(VMCS.GUEST_IDTR_LIMIT, 0x7ff);
    v.write(VMCS.GUEST_GDTR_BASE, 0);
    v.write(VMCS.GUEST_GDTR_LIMIT, 0xffff);
    v.write(VMCS.GUEST_RFLAGS, 2);
    v.write(VMCS.GUEST_RIP, CODE);
    v.write(VMCS.GUEST_RSP, 0x9000);
  }

  /** Writes guest-physical bytes (through the EPT layout this machine set up). */
  write(gpa: number, bytes: number[]): void {
    this.memory.writeBytes(gpa + GUEST_OFFSET, Uint8Array.from(bytes));
  }

  read32(gpa: number): number {
    return this.memory.read32(gpa + GUEST_OFFSET) >>> 0;
  }

  write32(gpa: number, value: number): void {
    this.memory.write32(gpa + GUEST_OFFSET, value);
  }

  /** An interrupt gate in the guest's IDT (at guest-physical 0x800) for `vector` to `handler`. */
  gate(vector: number, handler: number): void {
    this.write32(0x800 + vector * 8, (0x08 << 16) | (handler & 0xffff));
    this.write32(0x800 + vector * 8 + 4, (handler & 0xffff0000) | 0x8e00);
  }

  start(code: number[]): Vmx {
    this.write(CODE, code);
    return this.vmx;
  }

  get rip(): number {
    return this.vmx.vmcs.read(VMCS.GUEST_RIP);
  }

  /** The VMM's "skip the instruction": RIP += exit instruction length. */
  skip(): void {
    const v = this.vmx.vmcs;
    v.write(VMCS.GUEST_RIP, v.read(VMCS.GUEST_RIP) + v.read(VMCS.VM_EXIT_INSTRUCTION_LENGTH));
  }

  get qualification(): number {
    return this.vmx.vmcs.read(VMCS.EXIT_QUALIFICATION);
  }
}
