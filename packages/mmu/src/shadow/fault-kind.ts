// What a host #PF taken while the guest runs on shadow page tables means for the VMM.

/** The guest's tables allow the access: the shadow entry is filled now; resume the guest. */
export const SHADOW_HIDDEN = 0;
/** The guest's own tables deny the access: deliver #PF with `guestErrorCode`, CR2 = the linear address. */
export const SHADOW_TRUE = 1;
/** A write to a traced guest page-table page: emulate the instruction, store through `guestWrite`. */
export const SHADOW_TRACED = 2;
/** The guest-physical address (`faultGpa`) is not guest RAM or ROM (or is a ROM write): emulate it on the MMIO bus. */
export const SHADOW_MMIO = 3;
/** The linear address is in the VMM's reserved area: the VMM's business (segment truncation, relocation). */
export const SHADOW_VMM_AREA = 4;
/**
 * A user access to a page the VMM overlays (`setOverlay`): emulate the instruction against the
 * guest's own mapping, which the guest's tables decide.
 */
export const SHADOW_OVERLAY = 6;

/** The guest's paging mode is not shadowed (see `unsupportedReason`): stop the VM with that reason. */
export const SHADOW_UNSUPPORTED = 5;

export type ShadowFaultKind =
  | typeof SHADOW_HIDDEN | typeof SHADOW_TRUE | typeof SHADOW_TRACED | typeof SHADOW_MMIO | typeof SHADOW_VMM_AREA
  | typeof SHADOW_UNSUPPORTED | typeof SHADOW_OVERLAY;
