import { describe, expect, it } from 'vitest';
import { UsageError } from '../src/args.js';
import { chooseStrategy, STRATEGIES } from '../src/strategies.js';

/** A strategy module that cannot run here, the way `hw` answers without /dev/kvm. */
const NO_KVM = 'data:text/javascript,' + encodeURIComponent(
  "export const hwStrategy = { name: 'hw', description: 'KVM', unavailableReason: () => '/dev/kvm: No such file or directory', createVm() { throw new Error('unused'); } };",
);

describe('chooseStrategy', () => {
  it('knows none and hw, resolved to modules a worker can import', () => {
    expect(STRATEGIES.map((entry) => entry.name)).toEqual(['none', 'hw', 'hw:kvm', 'hw:vmx']);
    for (const entry of STRATEGIES) expect(entry.module).toMatch(/^file:\/\//);
  });

  it('refuses an unknown name with the list of known ones', async () => {
    await expect(chooseStrategy('vmware')).rejects.toThrow(new UsageError("unknown VMM 'vmware' for --vmm (known: none, hw, hw:kvm, hw:vmx)"));
  });

  it('says in one line why a known strategy cannot run here', async () => {
    const registry = [{ name: 'hw', module: NO_KVM, exportName: 'hwStrategy' }];
    await expect(chooseStrategy('hw', registry)).rejects.toThrow('--vmm hw is not available here: /dev/kvm: No such file or directory');
  });
});
