import { CS, DS, ES, FS, GS, LDTR, SS, TR, type Cpu } from '../cpu.js';
import { VMCS, type VmcsFieldName } from './fields.js';

/** Segment registers in VMCS field order (ES CS SS DS FS GS LDTR TR, encodings step by 2). */
const SEGMENTS = [ES, CS, SS, DS, FS, GS, LDTR, TR];
/** `segAccess` bit 16: unusable (a null selector was loaded), as in VMX access rights. */
const UNUSABLE = 1 << 16;

const NAMES = new Map<number, VmcsFieldName>(Object.entries(VMCS).map(([name, enc]) => [enc, name as VmcsFieldName]));

/** How a guest-state field reaches the CPU that holds it. */
interface GuestField { get(cpu: Cpu): number; set(cpu: Cpu, value: number): void }

/**
 * Guest-state fields live in the CPU itself between VM exit and VM entry (the exit saved them there,
 * the entry loads what is there): reading one reads the guest's saved value, writing one sets what
 * the next entry loads. Registers that change the mode mark the CPU for `modeChanged` at entry.
 */
function guestFields(markMode: () => void): Map<number, GuestField> {
  const fields = new Map<number, GuestField>();
  SEGMENTS.forEach((s, i) => {
    fields.set(VMCS.GUEST_ES_SELECTOR + 2 * i, { get: (c) => c.seg[s], set: (c, v) => { c.seg[s] = v & 0xffff; markMode(); } });
    fields.set(VMCS.GUEST_ES_LIMIT + 2 * i, { get: (c) => c.segLimit[s] >>> 0, set: (c, v) => { c.segLimit[s] = v | 0; markMode(); } });
    fields.set(VMCS.GUEST_ES_BASE + 2 * i, { get: (c) => c.segBase[s] >>> 0, set: (c, v) => { c.segBase[s] = v | 0; markMode(); } });
    fields.set(VMCS.GUEST_ES_ACCESS_RIGHTS + 2 * i, {
      get: (c) => c.segAccess[s] & (UNUSABLE | 0xf0ff),
      set: (c, v) => { c.segAccess[s] = v & (UNUSABLE | 0xf0ff); markMode(); },
    });
  });
  const reg = (get: (c: Cpu) => number, set: (c: Cpu, v: number) => void): GuestField => ({ get, set });
  fields.set(VMCS.GUEST_GDTR_BASE, reg((c) => c.gdtrBase >>> 0, (c, v) => { c.gdtrBase = v >>> 0; }));
  fields.set(VMCS.GUEST_GDTR_LIMIT, reg((c) => c.gdtrLimit, (c, v) => { c.gdtrLimit = v & 0xffff; }));
  fields.set(VMCS.GUEST_IDTR_BASE, reg((c) => c.idtrBase >>> 0, (c, v) => { c.idtrBase = v >>> 0; }));
  fields.set(VMCS.GUEST_IDTR_LIMIT, reg((c) => c.idtrLimit, (c, v) => { c.idtrLimit = v & 0xffff; }));
  fields.set(VMCS.GUEST_CR0, reg((c) => c.cr0 >>> 0, (c, v) => { c.cr0 = v | 0; markMode(); }));
  fields.set(VMCS.GUEST_CR3, reg((c) => c.cr3 >>> 0, (c, v) => { c.cr3 = v >>> 0; markMode(); }));
  fields.set(VMCS.GUEST_CR4, reg((c) => c.cr4 >>> 0, (c, v) => { c.cr4 = v >>> 0; markMode(); }));
  fields.set(VMCS.GUEST_IA32_EFER, reg((c) => c.efer >>> 0, (c, v) => { c.efer = v >>> 0; markMode(); }));
  fields.set(VMCS.GUEST_DR7, reg((c) => c.dr[7] >>> 0, (c, v) => { c.dr[7] = v | 0; }));
  // The SYSENTER MSRs (SDM 25.4.1): VM entry loads them, VM exit saves them, so they are the CPU's.
  fields.set(VMCS.GUEST_IA32_SYSENTER_CS, reg((c) => c.sysenterCs >>> 0, (c, v) => { c.sysenterCs = v | 0; }));
  fields.set(VMCS.GUEST_IA32_SYSENTER_ESP, reg(
    (c) => (c.long.sysenterEspHi >>> 0) * 2 ** 32 + (c.sysenterEsp >>> 0),
    (c, v) => { c.sysenterEsp = v % 2 ** 32 | 0; c.long.sysenterEspHi = c.traits.longMode ? Math.floor(v / 2 ** 32) | 0 : 0; },
  ));
  fields.set(VMCS.GUEST_IA32_SYSENTER_EIP, reg(
    (c) => (c.long.sysenterEipHi >>> 0) * 2 ** 32 + (c.sysenterEip >>> 0),
    (c, v) => { c.sysenterEip = v % 2 ** 32 | 0; c.long.sysenterEipHi = c.traits.longMode ? Math.floor(v / 2 ** 32) | 0 : 0; },
  ));
  fields.set(VMCS.GUEST_RSP, reg((c) => c.reg32[4] >>> 0, (c, v) => { c.reg32[4] = v | 0; }));
  fields.set(VMCS.GUEST_RIP, reg((c) => c.eip >>> 0, (c, v) => { c.eip = v >>> 0; c.flushFetch(); }));
  return fields;
}

/**
 * One VMCS. Control, exit-information and host fields are stored here; guest-state fields are the
 * guest CPU's registers (see `guestFields`). `read`/`write` take the SDM's encodings (VMREAD and
 * VMWRITE for a VMM written in TypeScript) and throw for a field this VMX does not implement.
 */
export class Vmcs {
  private readonly slots = new Map<number, number>();
  private readonly guest: Map<number, GuestField>;
  /** A guest-state field that changes the CPU mode was written since the last entry. */
  modeDirty = true;
  /**
   * RFLAGS as last written, until the next entry checks and loads it: the CPU's flags register
   * cannot hold the reserved bits the entry checks look at. -1: the CPU's value stands.
   */
  private rflags = -1;

  constructor(private readonly cpu: Cpu) {
    this.guest = guestFields(() => { this.modeDirty = true; });
    for (const enc of NAMES.keys()) if (!this.guest.has(enc) && enc !== VMCS.GUEST_RFLAGS) this.slots.set(enc, 0);
    this.slots.set(VMCS.VMCS_LINK_POINTER, 2 ** 64 - 1);
  }

  read(encoding: number): number {
    if (encoding === VMCS.GUEST_RFLAGS) return this.rflags >= 0 ? this.rflags : this.cpu.getEflags() >>> 0;
    const g = this.guest.get(encoding);
    if (g !== undefined) return g.get(this.cpu);
    const v = this.slots.get(encoding);
    if (v === undefined) throw new RangeError(`VMREAD: unsupported VMCS field 0x${encoding.toString(16)}`);
    return v;
  }

  write(encoding: number, value: number): void {
    if (!Number.isFinite(value)) throw new RangeError(`VMWRITE 0x${encoding.toString(16)}: ${value} is not a number`);
    if (encoding === VMCS.GUEST_RFLAGS) {
      this.rflags = value >>> 0;
      return;
    }
    const g = this.guest.get(encoding);
    if (g !== undefined) {
      g.set(this.cpu, value);
      return;
    }
    if (!this.slots.has(encoding)) throw new RangeError(`VMWRITE: unsupported VMCS field 0x${encoding.toString(16)}`);
    // Encoding bits 11:10 give the field's type; type 1 (VM-exit information) is read-only.
    if (((encoding >>> 10) & 3) === 1) throw new RangeError(`VMWRITE: VMCS field 0x${encoding.toString(16)} is read-only`);
    // 32-bit fields keep their low 32 bits; 64-bit and natural-width fields keep the number as given.
    const width = (encoding >>> 13) & 3;
    this.slots.set(encoding, width === 2 ? value >>> 0 : width === 0 ? value & 0xffff : value);
  }

  /** VM entry: the RFLAGS written since the last exit goes into the CPU (after the checks passed). */
  loadRflags(): void {
    if (this.rflags < 0) return;
    const cpu = this.cpu;
    const vmChanged = ((cpu.getEflags() ^ this.rflags) & (1 << 17)) !== 0;
    cpu.setEflags(this.rflags);
    this.rflags = -1;
    if (vmChanged) this.modeDirty = true;
  }

  /** Stores an exit-information field (read-only to the VMM). */
  setExitField(encoding: number, value: number): void {
    this.slots.set(encoding, value);
  }

  /** Every field by its SDM name, for tests and traces. */
  snapshot(): Record<VmcsFieldName, number> {
    const out = {} as Record<VmcsFieldName, number>;
    for (const [enc, name] of NAMES) out[name] = this.read(enc);
    return out;
  }
}
