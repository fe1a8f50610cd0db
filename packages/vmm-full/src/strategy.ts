import type { Vm, VmSpec, VmmStrategy } from '@ringvisor/vmm-api';
import { FullVm, fullHostRamSize } from './full-vm.js';

/** Strategy `full`: software full virtualization on the plain i686. */
export const fullStrategy: VmmStrategy = {
  name: 'full',
  description: 'software full virtualization: binary translation at ring 1, direct execution at ring 3, shadow descriptor tables and page tables',
  unavailableReason: () => null,
  createVm: (spec: VmSpec): Vm => new FullVm(spec),
  hostRamSize: fullHostRamSize,
};
