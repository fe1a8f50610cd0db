// The strategies `harness compare` runs, each with the build of the nanobenchmark guest it boots.
// Specifiers are resolved here, from the harness's own dependencies, so the VM's worker can import
// them (the CLI's registry does the same; the harness does not depend on the CLI).
import { loadStrategy, type StrategyEntry } from '@ringvisor/hypervisor-type2';
import { kvmPagingUnsupportedReason } from '@ringvisor/vmm-hw';

export interface CompareStrategy {
  readonly entry: StrategyEntry;
  /** minikernel (bare metal) or its Xen PV build, for strategies that run only PV kernels. */
  readonly guest: 'minikernel' | 'minikernel-pv';
  /**
   * Nanoseconds per guest TSC tick under the host clock: the emulated CPUs' TSC then counts wall
   * time at 100 MHz (NS_PER_TSC_TICK = 10 in x86-core's strategy/none.ts, vmm-full's full-vcpu.ts,
   * vmm-para's time.ts, vmm-hw's vmx-vcpu.ts). null: a real TSC of unknown rate (KVM), so host time
   * per operation comes from the wall clock around the command instead.
   */
  readonly nsPerTick: number | null;
  /** What else the guest needs of this strategy here: null when it has it, else why not. */
  readonly guestNeeds?: () => string | null;
}

const entry = (name: string, specifier: string, exportName: string): StrategyEntry =>
  ({ name, module: import.meta.resolve(specifier), exportName });

export const COMPARE_STRATEGIES: readonly CompareStrategy[] = [
  { entry: entry('none', '@ringvisor/x86-core', 'noneStrategy'), guest: 'minikernel', nsPerTick: 10 },
  { entry: entry('full', '@ringvisor/vmm-full', 'fullStrategy'), guest: 'minikernel', nsPerTick: 10 },
  { entry: entry('para', '@ringvisor/vmm-para', 'paraStrategy'), guest: 'minikernel-pv', nsPerTick: 10 },
  { entry: entry('hw:vmx', '@ringvisor/vmm-hw', 'vmxStrategy'), guest: 'minikernel', nsPerTick: 10 },
  // minikernel pages in 32-bit protected mode, which not every KVM runs (kvm_pvm).
  { entry: entry('hw:kvm', '@ringvisor/vmm-hw', 'kvmStrategy'), guest: 'minikernel', nsPerTick: null, guestNeeds: kvmPagingUnsupportedReason },
];

/** null if the strategy can run here, else why not (one line). */
export async function whyNot(strategy: CompareStrategy): Promise<string | null> {
  try {
    return (await loadStrategy(strategy.entry)).unavailableReason() ?? strategy.guestNeeds?.() ?? null;
  } catch (error) {
    return `cannot load ${strategy.entry.module}: ${(error as Error).message.split('\n')[0]}`;
  }
}
