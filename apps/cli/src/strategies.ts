import { findStrategy, loadStrategy, UnknownStrategyError, type StrategyEntry, type StrategyRegistry } from '@ringvisor/hypervisor-type2';
import { UsageError } from './args.js';

/**
 * The strategies this command knows. Specifiers are resolved here, from the CLI's own
 * dependencies, so the VM's worker can import them wherever the hypervisor package lives.
 */
export const STRATEGIES: StrategyRegistry = [
  { name: 'none', module: import.meta.resolve('@ringvisor/x86-core'), exportName: 'noneStrategy' },
  { name: 'full', module: import.meta.resolve('@ringvisor/vmm-full'), exportName: 'fullStrategy' },
  { name: 'para', module: import.meta.resolve('@ringvisor/vmm-para'), exportName: 'paraStrategy' },
  { name: 'hw', module: import.meta.resolve('@ringvisor/vmm-hw'), exportName: 'hwStrategy' },
  { name: 'hw:kvm', module: import.meta.resolve('@ringvisor/vmm-hw'), exportName: 'kvmStrategy' },
  { name: 'hw:vmx', module: import.meta.resolve('@ringvisor/vmm-hw'), exportName: 'vmxStrategy' },
];

/** The strategies that run the 'x86-64' CPU model (`--cpu x86-64`): the emulated CPU's only. */
export const X86_64_STRATEGIES: StrategyRegistry = [
  { name: 'none', module: import.meta.resolve('@ringvisor/x86-core'), exportName: 'noneX86_64Strategy' },
];

/** The CPU models `--cpu` accepts and the strategies each runs under. */
export const CPU_MODELS = { i686: STRATEGIES, 'x86-64': X86_64_STRATEGIES } as const;

/**
 * The strategy `--vmm NAME` names, checked to be runnable on this host before a VM starts; what the
 * host's backend cannot run goes to `warn` (the guest may still be one it runs).
 */
export async function chooseStrategy(name: string, registry: StrategyRegistry = STRATEGIES, cpu = 'i686',
  warn: (line: string) => void = () => undefined): Promise<StrategyEntry> {
  let entry: StrategyEntry;
  try {
    entry = findStrategy(registry, name);
  } catch (error) {
    if (error instanceof UnknownStrategyError) {
      if (registry !== STRATEGIES && STRATEGIES.some((candidate) => candidate.name === name)) {
        throw new UsageError(`--vmm ${name} has no --cpu ${cpu} (it runs under: ${error.known.join(', ')})`);
      }
      throw new UsageError(`unknown VMM '${name}' for --vmm (known: ${error.known.join(', ')})`);
    }
    throw error;
  }
  const strategy = await loadStrategy(entry);
  const reason = strategy.unavailableReason();
  if (reason !== null) throw new Error(`--vmm ${name} is not available here: ${reason}`);
  const limits = strategy.limitations?.() ?? null;
  if (limits !== null) warn(`ringvisor: warning: --vmm ${name} on this host: ${limits}`);
  return entry;
}

/** One line per strategy: name, whether it can run here, what it is. */
export async function describeStrategies(): Promise<string[]> {
  const lines: string[] = [];
  for (const entry of STRATEGIES) {
    try {
      const strategy = await loadStrategy(entry);
      const reason = strategy.unavailableReason();
      const limits = reason === null ? strategy.limitations?.() ?? null : null;
      const note = reason ?? (limits === null ? null : `limited: ${limits}`);
      lines.push(`${entry.name.padEnd(7)} ${reason === null ? 'available  ' : 'unavailable'}  ${strategy.description}${note === null ? '' : ` (${note})`}`);
    } catch (error) {
      lines.push(`${entry.name.padEnd(7)} unavailable  cannot load ${entry.module}: ${(error as Error).message.split('\n')[0]}`);
    }
  }
  return lines;
}
