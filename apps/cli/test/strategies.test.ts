import { describe, expect, it } from 'vitest';
import { chooseStrategy, STRATEGIES } from '../src/strategies.js';

/** A strategy module that cannot run here, the way `hw` answers without /dev/kvm. */
const NO_KVM = 'data:text/javascript,' + encodeURIComponent(
  "export const hwStrategy = { name: 'hw', description: 'KVM', unavailableReason: () => '/dev/kvm: No such file or directory', createVm() { throw new Error('unused'); } };",
);

describe('chooseStrategy', () => {
  it('knows none first, then the others (hw with its backends hw:kvm and hw:vmx), resolved to modules a worker can import', () => {
    const names = STRATEGIES.map((entry) => entry.name);
    expect(names[0]).toBe('none');
    expect(names).toEqual(expect.arrayContaining(['hw', 'hw:kvm', 'hw:vmx', 'para']));
    for (const entry of STRATEGIES) expect(entry.module).toMatch(/^file:\/\//);
  });

  it('refuses an unknown name with the list of known ones', async () => {
    // Every registered strategy is listed, none first.
    await expect(chooseStrategy('vmware')).rejects.toThrow(/^unknown VMM 'vmware' for --vmm \(known: none(, [\w:]+)*, hw:vmx\)$/);
  });

  it('says in one line why a known strategy cannot run here', async () => {
    const registry = [{ name: 'hw', module: NO_KVM, exportName: 'hwStrategy' }];
    await expect(chooseStrategy('hw', registry)).rejects.toThrow('--vmm hw is not available here: /dev/kvm: No such file or directory');
  });
});
