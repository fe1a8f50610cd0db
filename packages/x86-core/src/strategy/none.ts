import { Paging, PhysicalMemory } from '@ringvisor/mmu';
import type {
  AccessSize, ExitStats, MmioBus, Registers, SpecialRegisters, Vcpu, Vm, VmExit, VmSpec, VmmStrategy,
} from '@ringvisor/vmm-api';
import { Cpu } from '../cpu.js';
import { VM } from '../flags.js';
import { MMU_PAGING_FEATURES, MmuPaging } from '../mmu-paging.js';
import type { CpuModel } from '../model.js';
import { cpuRegisters, cpuSpecialRegisters, setCpuRegisters, setCpuSpecialRegisters } from './vcpu-state.js';

/** An MmioBus that counts accesses for the exit statistics (flushed once per `run()`). */
class CountingMmio implements MmioBus {
  count = 0;
  constructor(private readonly bus: MmioBus) {}
  read(address: number, size: AccessSize): number {
    this.count++;
    return this.bus.read(address, size);
  }
  write(address: number, size: AccessSize, value: number): void {
    this.count++;
    this.bus.write(address, size, value);
  }
}

/**
 * Port accesses see the run loop's clock at most this many instructions stale (1 µs at the virtual
 * clock's 100 MHz, about one PIT tick): Linux's PIT/TSC calibration then finds the TSC's true rate.
 * Tight I/O loops (fewer instructions between accesses) still run many accesses per run().
 */
const IO_SYNC_INSTRUCTIONS = 100;

/** Under a host clock the TSC ticks at 100 MHz, as it does under the virtual clock (10 ns an instruction). */
const NS_PER_TSC_TICK = 10;

/** One emulated CPU as a vmm-api `Vcpu`: the CPU is the machine, nothing is intercepted. */
class NoneVcpu implements Vcpu {
  readonly cpu: Cpu;
  private readonly paging: Paging;
  // Exit objects are reused by every run (VmExit allows it).
  private readonly budgetExit = { reason: 'budget' as const };
  private readonly irqWindowExit = { reason: 'irq-window' as const };
  private readonly hltExit = { reason: 'hlt' as const, interruptsEnabled: false };
  private readonly shutdownExit = { reason: 'shutdown' as const, cause: 'triple-fault' as const };

  constructor(
    readonly index: number,
    memory: PhysicalMemory,
    private readonly spec: VmSpec,
    private readonly mmio: CountingMmio,
    options: NoneStrategyOptions,
  ) {
    this.paging = new Paging(memory, { maxPhysAddrBits: PHYSICAL_ADDRESS_BITS });
    this.cpu = new Cpu({
      memory, io: spec.io, interrupts: spec.interrupts, paging: new MmuPaging(this.paging),
      compileBlocks: options.compileBlocks !== false, model: options.model ?? 'i686',
    });
    this.cpu.pagingFeatures = MMU_PAGING_FEATURES;
    this.cpu.ioSyncInstructions = IO_SYNC_INSTRUCTIONS;
    const clock = spec.clock;
    // Under a host clock the timers the guest calibrates the TSC against run on wall time, and so
    // must the TSC: it counts that clock at the rate instructions count under a virtual clock.
    if (clock?.kind === 'host') this.cpu.tscSource = () => Math.floor(clock.now() / NS_PER_TSC_TICK);
    const cpu = this.cpu;
    memory.onLayoutChange(() => {
      cpu.addressMask = memory.addressMask;
      cpu.flushFetch();
    });
    cpu.addressMask = memory.addressMask;
  }

  get retired(): number {
    return this.cpu.retired;
  }

  get interruptible(): boolean {
    return this.cpu.interruptible;
  }

  run(budget: number): VmExit {
    const cpu = this.cpu;
    const reason = cpu.run(budget);
    const stats = this.spec.stats;
    this.flushStats(stats);
    // Every exit handed to the hypervisor is counted, as vmm-hw counts KVM's; a spent budget is not an exit.
    switch (reason) {
      case 'budget': return this.budgetExit;
      case 'irq-window':
        stats.count('irq-window');
        return this.irqWindowExit;
      case 'hlt':
        stats.count('hlt');
        this.hltExit.interruptsEnabled = (cpu.flags & 0x200) !== 0;
        return this.hltExit;
      case 'shutdown':
        stats.count('shutdown');
        return this.shutdownExit;
      case 'exception': {
        stats.count('exception');
        const stop = cpu.stop;
        return {
          reason: 'exception', vector: stop.vector,
          ...(stop.errorCode >= 0 ? { errorCode: stop.errorCode } : {}),
          ...(stop.vector === 14 ? { address: stop.address } : {}),
        };
      }
      default:
        stats.count('internal-error');
        return { reason: 'internal-error', detail: reason === 'internal-error' ? cpu.stop.detail : `unexpected stop: ${reason}` };
    }
  }

  /** Port counts kept in the CPU's typed arrays go to the shared statistics once per run. */
  private flushStats(stats: ExitStats): void {
    const cpu = this.cpu;
    const counts = cpu.ioCount;
    for (let i = 0; i < cpu.ioTouchedCount; i++) {
      const port = cpu.ioTouched[i];
      for (let n = counts[port]; n > 0; n--) stats.count('io', port);
      counts[port] = 0;
    }
    cpu.ioTouchedCount = 0;
    for (let n = this.mmio.count; n > 0; n--) stats.count('mmio');
    this.mmio.count = 0;
  }

  requestInterruptWindow(enable: boolean): void {
    this.cpu.interruptWindowRequested = enable;
  }

  injectInterrupt(vector: number): void {
    this.cpu.injectInterrupt(vector);
  }

  /**
   * The TSC counts retired instructions; skipped idle time moves it by as many ticks. A TSC that
   * follows a host clock has nothing to catch up.
   */
  advanceTsc(ticks: number): void {
    if (this.cpu.tscSource === null && Number.isSafeInteger(ticks) && ticks > 0) this.cpu.tscOffset += ticks;
  }

  getRegisters(): Registers {
    return cpuRegisters(this.cpu);
  }

  setRegisters(regs: Registers): void {
    setCpuRegisters(this.cpu, regs);
    this.cpu.halted = false;
  }

  getSpecialRegisters(): SpecialRegisters {
    return cpuSpecialRegisters(this.cpu);
  }

  setSpecialRegisters(sregs: SpecialRegisters): void {
    const cpu = this.cpu;
    setCpuSpecialRegisters(cpu, sregs);
    // CPL is SS's DPL in protected mode (CS's for a conforming segment aside), 3 in v86, 0 in real mode.
    cpu.cpl = (cpu.cr0 & 1) === 0 ? 0 : cpu.flags & VM ? 3 : (sregs.ss.access >> 5) & 3;
    cpu.modeChanged();
    cpu.halted = false;
    // Loading a whole new system state starts the CPU again after a shutdown.
    cpu.inShutdown = false;
  }
}

const FOUR_GIB = 2 ** 32;
/** Physical-address width of the emulated CPU's paging unit (mmu's Paging default, PAE and PSE-36). */
const PHYSICAL_ADDRESS_BITS = 36;
const PHYSICAL_TOP = 2 ** PHYSICAL_ADDRESS_BITS;

class NoneVm implements Vm {
  readonly memory: PhysicalMemory;
  private readonly mmio: CountingMmio;

  constructor(
    private readonly spec: VmSpec,
    private readonly options: NoneStrategyOptions,
  ) {
    this.mmio = new CountingMmio(spec.mmio);
    for (const r of spec.regions) {
      if (r.base + r.size > PHYSICAL_TOP) {
        throw new RangeError(
          `strategy none maps guest-physical memory below ${PHYSICAL_TOP / 2 ** 30} GiB (MAXPHYADDR ${PHYSICAL_ADDRESS_BITS}); ` +
          `the region at 0x${r.base.toString(16)} of 0x${r.size.toString(16)} bytes ends above it`);
      }
    }
    const ramEnd = spec.regions.filter((r) => !r.rom && r.base < FOUR_GIB).reduce((end, r) => Math.max(end, r.base + r.size), 0);
    // The mmu backs RAM below 4 GiB with one array indexed by physical address: ask for one buffer
    // covering it. RAM above 4 GiB (PAE) lives in the mmu's own chunks, off the CPU's fast path.
    const ramBuffer = ramEnd > 0 ? spec.ramBacking?.({ base: 0, size: ramEnd }) : undefined;
    this.memory = new PhysicalMemory({ regions: spec.regions, fallback: this.mmio, ...(ramBuffer ? { ramBuffer } : {}) });
  }

  createVcpu(index: number): Vcpu {
    return new NoneVcpu(index, this.memory, this.spec, this.mmio, this.options);
  }

  /** The board's A20 gate: mmu masks CPU addresses and each vCPU follows through onLayoutChange. */
  setA20(enabled: boolean): void {
    this.memory.a20Enabled = enabled;
  }

  destroy(): void {
    // Nothing outside the JS heap is held.
  }
}

/** How strategy `none` runs its CPUs. */
export interface NoneStrategyOptions {
  /**
   * Compile hot code to JavaScript blocks (default true). False interprets every instruction: the
   * same guest behaviour and instruction counts, slower; for comparisons and differential tests.
   */
  compileBlocks?: boolean;
  /** The CPU model of every vCPU (default 'i686'; see `CpuOptions.model`). */
  model?: CpuModel;
}

/** Strategy `none` with options. */
export function createNoneStrategy(options: NoneStrategyOptions = {}): VmmStrategy {
  return {
    name: 'none',
    description: 'no virtualization: the guest runs directly on the emulated CPU',
    unavailableReason: () => null,
    createVm: (spec: VmSpec): Vm => new NoneVm(spec, options),
  };
}

/** Strategy `none`: no virtualization, the guest runs directly on the emulated CPU. */
export const noneStrategy: VmmStrategy = createNoneStrategy();

/** Strategy `none` on the 'x86-64' model (long mode, SSE/SSE2): what `ringvisor run --cpu x86-64` loads. */
export const noneX86_64Strategy: VmmStrategy = createNoneStrategy({ model: 'x86-64' });
