// A guest CPU's memory accesses run two ways at once: on "bare hardware" (the plain Paging walker on
// the guest's tables, TLB emptied before each access, which a real CPU may always do) and virtualized
// (host Paging with CR0.WP = 1 walking the SHADOW tables, host #PFs handed to ShadowPaging and
// handled as vmm-full would). Tests compare the two outcomes and the guest RAM they leave.
import {
  ACCESS_WRITE, CR0_PG, CR0_WP, Paging, PhysicalMemory, ShadowPaging, SHADOW_HIDDEN, SHADOW_MMIO, SHADOW_TRACED,
  SHADOW_TRUE, SHADOW_UNSUPPORTED, SHADOW_VMM_AREA, type Access,
} from '../../src/index.js';
import { GuestPhysical } from '../../src/shadow/guest-physical.js';
import { RecordingDevice } from '../recording-device.js';

export const ROM_BASE = 0xffff0000;
export const MMIO_BASE = 0xfee00000;
const CR0_PE = 1;

/** What one access did: its value (read, or 0 for a write), or the #PF error code. */
export type Outcome = { readonly value: number } | { readonly pf: number } | { readonly vmmArea: true };

export interface MachineOptions {
  readonly ramSize?: number;
  readonly vmmFrames?: number;
  readonly maxShadowPages?: number;
}

export function createMachine(options: MachineOptions = {}) {
  const ramSize = options.ramSize ?? 0x400000;
  const vmmFrames = options.vmmFrames ?? 64;
  const rom = new Uint8Array(0x10000).map((_, i) => i * 7);
  const regions = [{ base: 0, size: ramSize + vmmFrames * 0x1000 }, { base: ROM_BASE, size: 0x10000, rom }];
  const host = new PhysicalMemory({ regions });
  const bareMem = new PhysicalMemory({ regions: [{ base: 0, size: ramSize }, { base: ROM_BASE, size: 0x10000, rom }] });
  host.addMmio(MMIO_BASE, 0x1000, new RecordingDevice());
  bareMem.addMmio(MMIO_BASE, 0x1000, new RecordingDevice());
  // The VMM's frames hold its own secrets: a guest that ever reads one has escaped.
  host.ram.fill(0x5a, ramSize);

  const pool: number[] = [];
  for (let i = vmmFrames - 1; i >= 0; i--) pool.push(ramSize + i * 0x1000);
  const cpu = new Paging(host);
  const bare = new Paging(bareMem);
  const shadow = new ShadowPaging({
    host, guestRamEnd: ramSize, hostTlb: cpu, maxShadowPages: options.maxShadowPages,
    allocFrame: () => pool.pop() ?? -1,
    freeFrame: (hpa) => { pool.push(hpa); },
  });
  const guestPhysical = new GuestPhysical(host, ramSize);
  cpu.setControl(CR0_PE | CR0_PG | CR0_WP, shadow.root, shadow.hostCr4, 0);
  let cr0 = CR0_PE;
  let cr3 = 0;
  let cr4 = 0;

  /** The VMM reloads the real CR3 whenever the pager's root may have changed. */
  function reloadHostCr3(): void {
    cpu.setCr3(shadow.root);
  }

  const machine = {
    host, bareMem, shadow, cpu, bare, pool, ramSize,
    get cr0() { return cr0; },
    get cr3() { return cr3; },
    get cr4() { return cr4; },

    control(newCr0: number, newCr3: number, newCr4: number, efer = 0): void {
      cr0 = newCr0 >>> 0; cr3 = newCr3 >>> 0; cr4 = newCr4 >>> 0;
      shadow.setGuestControl(cr0, cr3, cr4, efer);
      bare.setControl(cr0, cr3, cr4, efer);
      reloadHostCr3();
    },
    movCr3(value: number): void {
      cr3 = value >>> 0;
      shadow.setCr3(cr3);
      bare.setCr3(cr3);
      reloadHostCr3();
    },
    invlpg(linear: number): void {
      shadow.invlpg(linear);
      bare.invlpg(linear);
    },

    /** Writes guest RAM directly on both sides (the guest kernel building tables before paging, or a loader). */
    poke(gpa: number, value: number): void {
      host.write32(gpa, value);
      bareMem.write32(gpa, value);
    },
    /** Copies guest RAM built on the virtualized side (tables made with Tables32 on `host`) to bare hardware. */
    syncBare(): void {
      bareMem.ram.set(host.ram.subarray(0, ramSize));
    },
    peek(gpa: number): number {
      return bareMem.read32(gpa);
    },

    /** The access on bare hardware. */
    onBare(linear: number, access: Access, user: boolean, value = 0): Outcome {
      bare.flush(true);
      const pa = bare.translate(linear, access, user);
      if (pa < 0) return { pf: bare.faultCode };
      if (access === ACCESS_WRITE) {
        bareMem.write32(pa, value);
        return { value: 0 };
      }
      return { value: bareMem.read32(pa) };
    },

    /** The access virtualized: host walk of the shadow tables, host #PFs handled as the VMM would. */
    onShadow(linear: number, access: Access, user: boolean, value = 0): Outcome {
      for (let attempt = 0; attempt < 4; attempt++) {
        const pa = cpu.translate(linear, access, user);
        if (pa >= 0) {
          if (pa >= ramSize && host.kind[pa >>> 12] === 0) throw new Error(`escaped: host pa 0x${pa.toString(16)}`);
          if (access === ACCESS_WRITE) {
            host.write32(pa, value);
            return { value: 0 };
          }
          return { value: host.read32(pa) };
        }
        const kind = shadow.fault(cpu.faultAddress, access, user);
        if (kind === SHADOW_HIDDEN) continue;
        if (kind === SHADOW_TRUE) return { pf: shadow.guestErrorCode };
        if (kind === SHADOW_VMM_AREA) return { vmmArea: true };
        if (kind === SHADOW_UNSUPPORTED) throw new Error(shadow.unsupportedReason ?? 'unsupported');
        const gpa = shadow.faultGpa + (linear & 0xfff) - (shadow.faultGpa & 0xfff);
        if (kind === SHADOW_TRACED) {
          shadow.guestWrite(gpa, 4, value);
          return { value: 0 };
        }
        if (kind === SHADOW_MMIO) {
          if (access === ACCESS_WRITE) {
            guestPhysical.write(gpa, 4, value);
            return { value: 0 };
          }
          return { value: guestPhysical.read32(gpa) };
        }
      }
      throw new Error(`hidden faults at 0x${(linear >>> 0).toString(16)} never end`);
    },

    /** The same access on both; returns both outcomes. */
    both(linear: number, access: Access, user: boolean, value = 0): { bare: Outcome; shadow: Outcome } {
      return { bare: machine.onBare(linear, access, user, value), shadow: machine.onShadow(linear, access, user, value) };
    },

    /** True when guest RAM is byte-identical on both sides (A/D bits included). */
    sameRam(): boolean {
      return Buffer.compare(host.ram.subarray(0, ramSize), bareMem.ram) === 0;
    },
  };
  return machine;
}

export type Machine = ReturnType<typeof createMachine>;

/** A small deterministic generator (mulberry32) for fuzzing with fixed seeds. */
export function randomSource(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}
