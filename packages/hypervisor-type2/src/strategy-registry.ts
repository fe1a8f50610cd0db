import type { VmmStrategy } from '@ringvisor/vmm-api';

/**
 * Where a VMM strategy lives, so that a worker thread can `import()` it by itself. `module` is an
 * absolute specifier (a file: URL from `import.meta.resolve` on the caller's side) because a
 * worker resolves bare package names from the hypervisor's folder, not from its caller's.
 */
export interface StrategyEntry {
  readonly name: string;
  readonly module: string;
  readonly exportName: string;
}

/** The strategies a caller offers, in the order it lists them. */
export type StrategyRegistry = readonly StrategyEntry[];

export class UnknownStrategyError extends Error {
  constructor(readonly requested: string, readonly known: readonly string[]) {
    super(`unknown VMM strategy '${requested}' (known: ${known.join(', ')})`);
    this.name = 'UnknownStrategyError';
  }
}

export function findStrategy(registry: StrategyRegistry, name: string): StrategyEntry {
  const entry = registry.find((candidate) => candidate.name === name);
  if (!entry) throw new UnknownStrategyError(name, registry.map((candidate) => candidate.name));
  return entry;
}

function isStrategy(value: unknown): value is VmmStrategy {
  const candidate = value as Partial<VmmStrategy> | null;
  return typeof candidate === 'object' && candidate !== null && typeof candidate.name === 'string' &&
    typeof candidate.createVm === 'function' && typeof candidate.unavailableReason === 'function';
}

/** Imports a strategy and checks that the export really is one. */
export async function loadStrategy(entry: StrategyEntry): Promise<VmmStrategy> {
  const module = (await import(entry.module)) as Record<string, unknown>;
  const strategy = module[entry.exportName];
  if (!isStrategy(strategy)) {
    throw new Error(`${entry.module} does not export a VMM strategy named '${entry.exportName}'`);
  }
  return strategy;
}
