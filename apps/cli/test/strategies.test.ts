import { describe, expect, it } from 'vitest';
import { chooseStrategy, CPU_MODELS, STRATEGIES } from '../src/strategies.js';

/** A strategy module that cannot run here, the way `hw` answers without /dev/kvm. */
const NO_KVM = 'data:text/javascript,' + encodeURIComponent(
  "export const hwStrategy = { name: 'hw', description: 'KVM', unavailableReason: () => '/dev/kvm: No such file or directory', createVm() { throw new Error('unused'); } };",
);

/** A strategy that runs here with a limitation, the way KVM answers on a nested kvm_pvm. */
const LIMITED = 'data:text/javascript,' + encodeURIComponent(
  "export const kvmStrategy = { name: 'hw:kvm', description: 'KVM', unavailableReason: () => null, limitations: () => 'no 32-bit paging', createVm() { throw new Error('unused'); } };",
);

describe('chooseStrategy', () => {
  it('lists none, full, para and hw in the order of the techniques, then hw\'s backends, resolved to modules a worker can import', () => {
    expect(STRATEGIES.map((entry) => entry.name)).toEqual(['none', 'full', 'para', 'hw', 'hw:kvm', 'hw:vmx']);
    for (const entry of STRATEGIES) expect(entry.module).toMatch(/^file:\/\//);
  });

  it('refuses an unknown name with the list of known ones', async () => {
    // Every registered strategy is listed, in the registry's order.
    await expect(chooseStrategy('vmware')).rejects.toThrow(/^unknown VMM 'vmware' for --vmm \(known: none, full, para, hw, hw:kvm, hw:vmx\)$/);
  });

  it('says in one line why a known strategy cannot run here', async () => {
    const registry = [{ name: 'hw', module: NO_KVM, exportName: 'hwStrategy' }];
    await expect(chooseStrategy('hw', registry)).rejects.toThrow('--vmm hw is not available here: /dev/kvm: No such file or directory');
  });

  it('chooses a strategy with a known limitation and warns once, in one line', async () => {
    const registry = [{ name: 'hw:kvm', module: LIMITED, exportName: 'kvmStrategy' }];
    const warnings: string[] = [];
    const entry = await chooseStrategy('hw:kvm', registry, 'i686', (line) => warnings.push(line));
    expect(entry.exportName).toBe('kvmStrategy');
    expect(warnings).toEqual(['ringvisor: warning: --vmm hw:kvm on this host: no 32-bit paging']);
  });

  it('runs the x86-64 CPU model (--cpu x86-64) under none only, saying so for the others', async () => {
    const entry = await chooseStrategy('none', CPU_MODELS['x86-64'], 'x86-64');
    expect(entry.exportName).toBe('noneX86_64Strategy');
    await expect(chooseStrategy('full', CPU_MODELS['x86-64'], 'x86-64')).rejects.toThrow(/^--vmm full has no --cpu x86-64 \(it runs under: none\)$/);
    expect(CPU_MODELS.i686).toBe(STRATEGIES);
  });
});
