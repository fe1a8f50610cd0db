// @ringvisor/vmm-para: strategy `para`, Xen's x86-32 PV guest ABI on the emulated i686.
export { paraStrategy } from './strategy.js';
export { parseXenElf, isXenElf, XenElfError, XEN_ELFNOTE, type XenElfImage, type XenElfSegment } from './xen-elf.js';
export { checkDescriptor } from './descriptors.js';
export * as xen from './abi.js';
