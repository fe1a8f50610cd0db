// Segment descriptors under Xen's x86-64 PV rules (check_descriptor for a 64-bit domain): the
// guest kernel runs at CPL 3, so a DPL below 3 is raised to 3; code and data segments are fine
// as they are (64-bit mode ignores base and limit); of the system descriptors only type 0 (the
// upper half of a 16-byte descriptor) passes here: call gates, the one kind Xen allows, are not
// offered (x86-core's 64-bit mode has none), and TSS and LDT descriptors are the hypervisor's.
const SEG_P = 1 << 15;
const SEG_DPL = 3 << 13;
const SEG_S = 1 << 12;
const SEG_TYPE = 0xf << 8;

/** The descriptor's high dword as the guest may have it (DPL raised to 3), or null when refused. */
export function checkDescriptor64(hi: number): number | null {
  hi >>>= 0;
  if ((hi & SEG_P) === 0) return hi;
  if ((hi & SEG_S) !== 0) return (hi | SEG_DPL) >>> 0;
  return (hi & SEG_TYPE) === 0 ? hi : null;
}
