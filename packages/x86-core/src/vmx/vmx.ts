import { NestedPaging, type PhysicalMemory } from '@ringvisor/mmu';
import type { InterruptController, IoBus } from '@ringvisor/vmm-api';
import { Cpu, CS, DS, ES } from '../cpu.js';
import { CpuFault } from '../fault.js';
import { MMU_PAGING_FEATURES } from '../mmu-paging.js';
import { readMsr, writeMsr } from '../msr.js';
import type { InterruptKind } from '../system/interrupt.js';
import { checkControls, checkGuestState } from './entry-checks.js';
import {
  ACTIVITY_ACTIVE, ACTIVITY_HLT, BLOCKING_BY_MOV_SS, BLOCKING_BY_NMI, BLOCKING_BY_STI, CPU_CR3_LOAD_EXITING, CPU_CR3_STORE_EXITING,
  CPU_HLT_EXITING, CPU_INTERRUPT_WINDOW_EXITING, CPU_INVLPG_EXITING, CPU_MONITOR_TRAP_FLAG, CPU_MOV_DR_EXITING,
  CPU_PAUSE_EXITING, CPU_RDTSC_EXITING, CPU_UNCONDITIONAL_IO_EXITING, CPU_USE_IO_BITMAPS, CPU_USE_MSR_BITMAPS,
  CPU_USE_TSC_OFFSETTING, CPU_ACTIVATE_SECONDARY_CONTROLS, CR_ACCESS_CLTS, CR_ACCESS_LMSW, CR_ACCESS_MOV_FROM,
  CR_ACCESS_MOV_TO, EXIT_ACKNOWLEDGE_INTERRUPT, EXIT_REASON, EXIT_REASON_ENTRY_FAILURE, EXIT_SAVE_PREEMPTION_TIMER,
  INTR_INFO_ERROR_CODE, INTR_INFO_VALID, INTR_TYPE_EXTERNAL, INTR_TYPE_HARDWARE_EXCEPTION, INTR_TYPE_NMI,
  INTR_TYPE_PRIVILEGED_SOFTWARE_EXCEPTION, INTR_TYPE_SOFTWARE_EXCEPTION, INTR_TYPE_SOFTWARE_INTERRUPT,
  PIN_EXTERNAL_INTERRUPT_EXITING, PIN_NMI_EXITING, PIN_PREEMPTION_TIMER, SECONDARY_ENABLE_EPT, SECONDARY_ENABLE_VPID,
  SECONDARY_WBINVD_EXITING, VMCS, VM_INSTRUCTION_ERROR,
} from './fields.js';
import { VmxPagingUnit } from './paging-unit.js';
import { Vmcs } from './vmcs.js';

/** `enter` returned without a VM exit: the host's instruction limit ran out (the guest is still in non-root). */
export const ENTER_LIMIT = -1;
/** `enter` failed before loading the guest (VMfailValid): see `VM_INSTRUCTION_ERROR` and `entryFailure`. */
export const ENTER_VMFAIL = -2;

const RDTSC_OPCODE = 0x131;
const NOP_OPCODE = 0x90;
const IRET_OPCODE = 0xcf;
const PF = 14;
/** Exceptions whose delivery pushes an error code (SDM Table 6-1). */
const HAS_ERROR_CODE = (1 << 8) | (1 << 10) | (1 << 11) | (1 << 12) | (1 << 13) | (1 << 14) | (1 << 17);
/** IA32_VMX_MISC bits 4:0: the preemption timer counts down once per 2^0 TSC ticks. */
export const PREEMPTION_TIMER_RATE = 0;

/** How a VMX-capable CPU is built. */
export interface VmxOptions {
  /** Host-physical memory: what the CPU reaches after EPT (or directly without it). */
  memory: PhysicalMemory;
  /**
   * Memory holding the VMX structures the VMCS points at (EPT paging structures, I/O and MSR
   * bitmaps); default `memory`. A VMM keeping them apart puts them out of any guest's reach.
   */
  vmmMemory?: PhysicalMemory;
  /** The port-I/O bus an I/O instruction reaches when it does not exit. */
  io: IoBus;
  /** The processor's INTR line (the host's interrupts); null: none. */
  hostInterrupts?: InterruptController | null;
  compileBlocks?: boolean;
}

/** Counters of the VMX hardware (exits by basic reason, 2-D walks, EPT exits by kind are in `paging.stats`). */
export class VmxStats {
  readonly exits = new Float64Array(65);
  entries = 0;
}

/**
 * A logical processor in VMX operation whose root mode is the TypeScript VMM calling it: `vmcs` is
 * the current VMCS (VMREAD/VMWRITE as `read`/`write`), `enter` is VMLAUNCH/VMRESUME. The guest runs
 * on `cpu` in non-root operation until a VM exit, which `enter` returns as its basic exit reason
 * with the exit-information fields filled (SDM Vol. 3C, chapters 25-28). The guest's general-purpose
 * registers are `cpu.reg32`, which VMX neither saves nor loads.
 */
export class Vmx {
  readonly cpu: Cpu;
  readonly vmcs: Vmcs;
  readonly paging: NestedPaging;
  readonly stats = new VmxStats();
  /** Why the last entry failed (a failed control check or an invalid guest state), '' otherwise. */
  entryFailure = '';
  /**
   * The NMI line: an NMI waits here until an entry finds it unblocked (then it exits with NMI
   * exiting, else it is delivered through the guest IDT, or right after the IRET that unblocks it).
   */
  nmiPending = false;
  /** Blocking by NMI (interruptibility state bit 3): loaded at entry, saved at exit. */
  private nmiBlocked = false;

  private readonly unit: VmxPagingUnit;
  /** Where the VMX structures are read (`VmxOptions.vmmMemory`). */
  private readonly memory: PhysicalMemory;
  private readonly hostInterrupts: InterruptController | null;
  /** The VPID and EPTP the combined translations in the TLB belong to (-1: none yet). */
  private tagVpid = -1;
  private tagEptp = -1;
  private tscOffsetApplied = 0;
  private readonly ioBitmapScratch = new Uint8Array(0x1000);

  constructor(options: VmxOptions) {
    this.memory = options.vmmMemory ?? options.memory;
    this.paging = new NestedPaging(options.memory, { eptTables: this.memory });
    this.unit = new VmxPagingUnit(this.paging);
    this.hostInterrupts = options.hostInterrupts ?? null;
    this.cpu = new Cpu({
      memory: options.memory, io: options.io, paging: this.unit, compileBlocks: options.compileBlocks !== false,
      interrupts: this.hostInterrupts ?? undefined,
    });
    this.unit.cpu = this.cpu;
    this.cpu.pagingFeatures = MMU_PAGING_FEATURES;
    const cpu = this.cpu;
    const memory = options.memory;
    memory.onLayoutChange(() => {
      cpu.addressMask = memory.addressMask;
      cpu.flushFetch();
    });
    this.vmcs = new Vmcs(this.cpu);
  }

  /** INVEPT (single-context or all-context): combined translations derived from EPT go. */
  invept(): void {
    this.paging.flush(true);
  }

  /** INVVPID: the translations tagged with the VPID go (all of them: one VPID is live here). */
  invvpid(vpid: number): void {
    if (vpid === this.tagVpid || vpid === 0) this.paging.flush(true);
  }

  /**
   * VM entry, then the guest until a VM exit: returns the exit reason (bit 31 set for an entry
   * failure, exit reason 33), ENTER_LIMIT when `limit` instructions retired without an exit, or
   * ENTER_VMFAIL when a control check failed and nothing was entered.
   */
  enter(limit = Number.MAX_SAFE_INTEGER): number {
    const vmcs = this.vmcs;
    this.stats.entries++;
    const controlError = checkControls(vmcs, this.paging.ept);
    if (controlError !== null) {
      this.entryFailure = controlError;
      vmcs.setExitField(VMCS.VM_INSTRUCTION_ERROR, VM_INSTRUCTION_ERROR.INVALID_CONTROL_FIELDS);
      return ENTER_VMFAIL;
    }
    const guestError = checkGuestState(vmcs, this.cpu);
    if (guestError !== null) {
      this.entryFailure = guestError;
      this.clearExitInfo();
      return this.exit((EXIT_REASON.INVALID_GUEST_STATE | EXIT_REASON_ENTRY_FAILURE) >>> 0, 0);
    }
    this.entryFailure = '';
    this.load();
    return this.runGuest(limit);
  }

  // ---- VM entry ---------------------------------------------------------------------------

  /** Loads the controls into the CPU's intercepts and paging, then the event to inject. */
  private load(): void {
    const vmcs = this.vmcs;
    const cpu = this.cpu;
    const pin = vmcs.read(VMCS.PIN_BASED_CONTROLS);
    const primary = vmcs.read(VMCS.PRIMARY_PROCESSOR_CONTROLS);
    const secondary = primary & CPU_ACTIVATE_SECONDARY_CONTROLS ? vmcs.read(VMCS.SECONDARY_PROCESSOR_CONTROLS) : 0;
    vmcs.loadRflags();
    const i = cpu.intercepts;
    i.clear();
    i.externalInterrupts = (pin & PIN_EXTERNAL_INTERRUPT_EXITING) !== 0;
    i.hlt = (primary & CPU_HLT_EXITING) !== 0;
    i.invlpg = (primary & CPU_INVLPG_EXITING) !== 0;
    i.cpuid = i.vmcall = i.invd = true;
    i.wbinvd = (secondary & SECONDARY_WBINVD_EXITING) !== 0;
    i.debugRegisters = (primary & CPU_MOV_DR_EXITING) !== 0;
    i.msr = true;
    if (primary & CPU_RDTSC_EXITING) i.interceptOpcode(RDTSC_OPCODE);
    if (primary & CPU_PAUSE_EXITING) i.interceptOpcode(NOP_OPCODE);
    if (primary & CPU_UNCONDITIONAL_IO_EXITING && !(primary & CPU_USE_IO_BITMAPS)) i.ioAll = true;
    else if (primary & CPU_USE_IO_BITMAPS) this.loadIoBitmaps();
    // Exceptions: #PF goes through the error-code mask/match (SDM 25.2), decided at the stop.
    const bitmap = vmcs.read(VMCS.EXCEPTION_BITMAP);
    const pfMask = vmcs.read(VMCS.PAGE_FAULT_ERROR_CODE_MASK);
    const pfMatch = vmcs.read(VMCS.PAGE_FAULT_ERROR_CODE_MATCH);
    i.exceptions = bitmap & ~(1 << PF);
    if ((bitmap & (1 << PF)) !== 0 || (pfMask | pfMatch) !== 0) i.exceptions |= 1 << PF;
    i.softwareExceptions = bitmap & ((1 << 1) | (1 << 3) | (1 << 4));
    i.crShadowing = true;
    i.cr0Mask = vmcs.read(VMCS.CR0_GUEST_HOST_MASK) | 0;
    i.cr0Shadow = vmcs.read(VMCS.CR0_READ_SHADOW) | 0;
    i.cr4Mask = vmcs.read(VMCS.CR4_GUEST_HOST_MASK) | 0;
    i.cr4Shadow = vmcs.read(VMCS.CR4_READ_SHADOW) | 0;
    i.crWrite = (i.cr0Mask !== 0 ? 1 : 0) | (i.cr4Mask !== 0 ? 1 << 4 : 0) | (primary & CPU_CR3_LOAD_EXITING ? 1 << 3 : 0);
    i.crRead = primary & CPU_CR3_STORE_EXITING ? 1 << 3 : 0;
    cpu.interruptWindowRequested = (primary & CPU_INTERRUPT_WINDOW_EXITING) !== 0;
    // TSC offsetting: the guest's RDTSC (and RDMSR of the TSC) add the offset.
    this.tscOffsetApplied = primary & CPU_USE_TSC_OFFSETTING ? vmcs.read(VMCS.TSC_OFFSET) : 0;
    cpu.tscOffset += this.tscOffsetApplied;
    this.loadPaging(secondary);
    const interruptibility = vmcs.read(VMCS.GUEST_INTERRUPTIBILITY_STATE);
    cpu.interruptShadow = interruptibility & BLOCKING_BY_MOV_SS ? 2 : interruptibility & BLOCKING_BY_STI ? 1 : 0;
    this.nmiBlocked = false;
    if (interruptibility & BLOCKING_BY_NMI) this.blockNmis();
    cpu.halted = vmcs.read(VMCS.GUEST_ACTIVITY_STATE) === ACTIVITY_HLT;
    cpu.inShutdown = false;
    this.inject();
  }

  /** EPT on or off, and the TLB tag: translations of another VPID or EPTP are not used. */
  private loadPaging(secondary: number): void {
    const vmcs = this.vmcs;
    const cpu = this.cpu;
    const ept = (secondary & SECONDARY_ENABLE_EPT) !== 0;
    const vpid = secondary & SECONDARY_ENABLE_VPID ? vmcs.read(VMCS.VPID) : 0;
    const eptp = ept ? vmcs.read(VMCS.EPT_POINTER) : 0;
    // Without VPIDs every entry flushes (SDM 28.3.3.3: VPID 0 translations do not survive transitions).
    if (vpid === 0 || vpid !== this.tagVpid || eptp !== this.tagEptp || ept !== this.paging.eptEnabled) {
      this.paging.flush(true);
      this.tagVpid = vpid;
      this.tagEptp = eptp;
    }
    if (ept && this.paging.ept.pointer !== eptp) this.paging.ept.setPointer(eptp);
    this.paging.eptEnabled = ept;
    if (cpu.translateAlways !== ept || vmcs.modeDirty) {
      cpu.translateAlways = ept;
      vmcs.modeDirty = false;
      cpu.cpl = (cpu.cr0 & 1) === 0 ? 0 : cpu.v86Mode ? 3 : (cpu.segAccess[2] >> 5) & 3;
      cpu.modeChanged();
    }
  }

  /** The I/O bitmaps A and B, read from host-physical memory at entry into the CPU's port intercepts. */
  private loadIoBitmaps(): void {
    const ports = this.cpu.intercepts.ioPorts;
    const scratch = this.ioBitmapScratch;
    for (let half = 0; half < 2; half++) {
      const address = this.vmcs.read(half === 0 ? VMCS.IO_BITMAP_A : VMCS.IO_BITMAP_B);
      if (!this.memory.readBytes(address, scratch)) scratch.fill(0xff);
      ports.set(scratch, half * 0x1000);
    }
    this.cpu.intercepts.ioBitmap = true;
  }

  /** VM-entry event injection (SDM 26.6): delivered through the guest IDT before any instruction. */
  private inject(): void {
    const vmcs = this.vmcs;
    const cpu = this.cpu;
    const info = vmcs.read(VMCS.VM_ENTRY_INTERRUPTION_INFO);
    if (info & INTR_INFO_VALID) {
      const vector = info & 0xff;
      const type = (info >>> 8) & 7;
      const errorCode = info & INTR_INFO_ERROR_CODE ? vmcs.read(VMCS.VM_ENTRY_EXCEPTION_ERROR_CODE) : -1;
      let kind: InterruptKind = 'external';
      if (type === INTR_TYPE_HARDWARE_EXCEPTION) kind = 'exception';
      else if (type >= INTR_TYPE_SOFTWARE_INTERRUPT) {
        // Software events return past their instruction: the frame holds RIP + instruction length.
        cpu.eip = (cpu.eip + vmcs.read(VMCS.VM_ENTRY_INSTRUCTION_LENGTH)) >>> 0;
        kind = type === INTR_TYPE_SOFTWARE_INTERRUPT ? 'software'
          : type === INTR_TYPE_PRIVILEGED_SOFTWARE_EXCEPTION ? 'icebp' : vector === 4 ? 'into' : 'int3';
      }
      cpu.injectEvent(vector, kind, errorCode);
      cpu.halted = false;
      // Delivering an NMI blocks NMIs until an IRET (SDM 6.7.1), an injected one too (26.6.1.2).
      if (type === INTR_TYPE_NMI) this.blockNmis();
      return;
    }
    if (this.nmiPending && !this.nmiBlocked && !(vmcs.read(VMCS.PIN_BASED_CONTROLS) & PIN_NMI_EXITING)) this.deliverNmi();
  }

  /** The pending NMI goes through the guest's IDT vector 2, and blocks further NMIs. */
  private deliverNmi(): void {
    this.nmiPending = false;
    this.cpu.injectEvent(2, 'external', -1);
    this.cpu.halted = false;
    this.blockNmis();
  }

  /**
   * Blocking by NMI is in effect. Without NMI exiting the guest's next IRET ends it (SDM 25.3:
   * with NMI exiting, IRET leaves NMI blocking alone), so IRET stops the CPU until then.
   */
  private blockNmis(): void {
    this.nmiBlocked = true;
    if (!(this.vmcs.read(VMCS.PIN_BASED_CONTROLS) & PIN_NMI_EXITING)) this.cpu.intercepts.interceptOpcode(IRET_OPCODE);
  }

  // ---- Non-root operation -------------------------------------------------------------------

  private runGuest(limit: number): number {
    const vmcs = this.vmcs;
    const cpu = this.cpu;
    const pin = vmcs.read(VMCS.PIN_BASED_CONTROLS);
    const primary = vmcs.read(VMCS.PRIMARY_PROCESSOR_CONTROLS);
    const timerOn = (pin & PIN_PREEMPTION_TIMER) !== 0;
    let timer = timerOn ? vmcs.read(VMCS.VMX_PREEMPTION_TIMER_VALUE) : Number.MAX_SAFE_INTEGER;
    const mtf = (primary & CPU_MONITOR_TRAP_FLAG) !== 0;
    this.clearExitInfo();
    // Events that exit before any guest instruction: an NMI under NMI exiting, a host interrupt
    // under external-interrupt exiting (whatever the guest's IF).
    if (this.nmiPending && !this.nmiBlocked && pin & PIN_NMI_EXITING) {
      this.nmiPending = false;
      vmcs.setExitField(VMCS.VM_EXIT_INTERRUPTION_INFO, (INTR_INFO_VALID | (INTR_TYPE_NMI << 8) | 2) >>> 0);
      return this.exit(EXIT_REASON.EXCEPTION_OR_NMI, 0);
    }
    if (cpu.intercepts.externalInterrupts && this.hostInterrupts?.pending()) return this.externalInterruptExit();
    let left = limit;
    let nmiAfterIret = false;
    for (;;) {
      const budget = Math.max(0, Math.min(left, timer, mtf || nmiAfterIret ? 1 : Number.MAX_SAFE_INTEGER));
      const before = cpu.retired;
      const reason = cpu.run(budget);
      const done = cpu.retired - before;
      left -= done;
      if (timerOn) timer -= done >>> PREEMPTION_TIMER_RATE;
      const stop = cpu.stop;
      switch (reason) {
        case 'budget':
          if (mtf) return this.exit(EXIT_REASON.MONITOR_TRAP_FLAG, 0, timer);
          if (timerOn && timer <= 0) return this.exit(EXIT_REASON.PREEMPTION_TIMER, 0, 0);
          if (left <= 0) return this.exit(ENTER_LIMIT, 0, timer);
          if (nmiAfterIret) this.deliverNmi();
          nmiAfterIret = false;
          continue;
        case 'hlt':
          if (!cpu.halted) return this.exit(EXIT_REASON.HLT, 0, timer, stop.length);
          // HLT without HLT exiting: the processor waits in the HLT activity state. The timer runs
          // out while it waits; otherwise only the host can end the wait.
          if (timerOn) return this.exit(EXIT_REASON.PREEMPTION_TIMER, 0, 0);
          if (cpu.intercepts.externalInterrupts && this.hostInterrupts?.pending()) return this.externalInterruptExit();
          return this.exit(ENTER_LIMIT, 0, timer);
        case 'irq-window': return this.exit(EXIT_REASON.INTERRUPT_WINDOW, 0, timer);
        case 'interrupt': return this.externalInterruptExit(timer);
        case 'shutdown':
          cpu.inShutdown = false;
          return this.exit(EXIT_REASON.TRIPLE_FAULT, 0, timer);
        case 'exception': {
          const result = this.exceptionStop(timer);
          if (result !== null) return result;
          continue;
        }
        case 'io': return this.ioExit(timer);
        case 'cpuid': return this.exit(EXIT_REASON.CPUID, 0, timer, stop.length);
        case 'rdmsr':
        case 'wrmsr': {
          if (this.msrExits(stop.msr, reason === 'wrmsr')) {
            return this.exit(reason === 'rdmsr' ? EXIT_REASON.RDMSR : EXIT_REASON.WRMSR, 0, timer, stop.length);
          }
          const fault = this.runMsrNatively(reason === 'wrmsr', stop.length);
          if (fault !== null && (cpu.intercepts.exceptions >>> fault.vector) & 1) {
            // The guest's own #GP, subject to the exception bitmap like any other.
            stop.vector = fault.vector;
            stop.errorCode = fault.hasErrorCode ? fault.errorCode : -1;
            stop.opcode = 0;
            stop.faultRetired = false;
            const result = this.exceptionStop(timer);
            if (result !== null) return result;
            continue;
          }
          // It ran in the guest: retired (a fault delivered counts as one, as the CPU counts it).
          cpu.retired++;
          left--;
          timer -= 1 >>> PREEMPTION_TIMER_RATE;
          if (fault !== null) cpu.injectEvent(fault.vector, 'exception', fault.hasErrorCode ? fault.errorCode : -1);
          continue;
        }
        case 'cr-read':
        case 'cr-write': return this.exit(EXIT_REASON.CR_ACCESS, this.crQualification(reason), timer, stop.length);
        case 'dr-read':
        case 'dr-write':
          return this.exit(EXIT_REASON.DR_ACCESS, stop.cr | (reason === 'dr-read' ? 1 << 4 : 0) | (stop.gpr << 8), timer, stop.length);
        case 'invlpg': return this.exit(EXIT_REASON.INVLPG, stop.msr, timer, stop.length);
        // The length decoder knows no VMX instructions: VMCALL is 0F 01 C1.
        case 'vmcall': return this.exit(EXIT_REASON.VMCALL, 0, timer, stop.length || 3);
        case 'invd': return this.exit(EXIT_REASON.INVD, 0, timer, stop.length);
        case 'wbinvd': return this.exit(EXIT_REASON.WBINVD, 0, timer, stop.length);
        case 'opcode':
          if (stop.opcode === RDTSC_OPCODE) return this.exit(EXIT_REASON.RDTSC, 0, timer, stop.length);
          if (stop.opcode === IRET_OPCODE) {
            // IRET ends blocking by NMI; it runs next, alone, and a pending NMI is delivered after it.
            this.nmiBlocked = false;
            cpu.intercepts.interceptOpcode(IRET_OPCODE, false);
            nmiAfterIret = this.nmiPending;
            continue;
          }
          if (stop.opcode === NOP_OPCODE && cpu.rep === 0xf3) return this.exit(EXIT_REASON.PAUSE, 0, timer, stop.length);
          // A plain NOP under PAUSE exiting: it only had to be told apart from PAUSE, and it retires.
          cpu.skipInstruction(stop.length);
          cpu.retired++;
          left--;
          timer -= 1 >>> PREEMPTION_TIMER_RATE;
          continue;
        case 'ept-violation':
        case 'ept-misconfig': return this.eptExit(reason, timer);
        default:
          throw new Error(`x86-core VMX: the guest CPU stopped with '${reason}'${stop.detail ? `: ${stop.detail}` : ''}`);
      }
    }
  }

  private externalInterruptExit(timer = 0): number {
    const vmcs = this.vmcs;
    let info = 0;
    if (vmcs.read(VMCS.VM_EXIT_CONTROLS) & EXIT_ACKNOWLEDGE_INTERRUPT && this.hostInterrupts !== null) {
      info = (INTR_INFO_VALID | (INTR_TYPE_EXTERNAL << 8) | (this.hostInterrupts.acknowledge() & 0xff)) >>> 0;
    }
    vmcs.setExitField(VMCS.VM_EXIT_INTERRUPTION_INFO, info);
    return this.exit(EXIT_REASON.EXTERNAL_INTERRUPT, 0, timer);
  }

  /** An exception the exception bitmap names exits; a #PF only as the error-code mask/match say. */
  private exceptionStop(timer: number): number | null {
    const vmcs = this.vmcs;
    const cpu = this.cpu;
    const stop = cpu.stop;
    const vector = stop.vector;
    if (vector === PF) {
      const bitmap = vmcs.read(VMCS.EXCEPTION_BITMAP);
      const matches = (stop.errorCode & vmcs.read(VMCS.PAGE_FAULT_ERROR_CODE_MASK)) === vmcs.read(VMCS.PAGE_FAULT_ERROR_CODE_MATCH);
      const exits = matches === ((bitmap & (1 << PF)) !== 0);
      if (!exits) {
        // Not this VMM's: the #PF goes to the guest as it would have without the check.
        cpu.injectEvent(PF, 'exception', stop.errorCode);
        return null;
      }
      // A #PF that causes a VM exit does not write CR2; the address is the exit qualification.
      cpu.cr2 = this.unit.cr2Before;
    }
    // The fault exits instead of being delivered: its instruction did not retire, so neither the
    // instruction count (the TSC) nor the preemption timer moves for it.
    if (stop.faultRetired) {
      cpu.retired--;
      timer += 1 >>> PREEMPTION_TIMER_RATE;
    }
    let type = INTR_TYPE_HARDWARE_EXCEPTION;
    let length = 0;
    if (stop.opcode !== 0) {
      type = stop.opcode === 0xf1 ? INTR_TYPE_PRIVILEGED_SOFTWARE_EXCEPTION : INTR_TYPE_SOFTWARE_EXCEPTION;
      length = stop.length;
    }
    const hasCode = stop.errorCode >= 0 && type === INTR_TYPE_HARDWARE_EXCEPTION;
    vmcs.setExitField(VMCS.VM_EXIT_INTERRUPTION_INFO, (INTR_INFO_VALID | (type << 8) | (hasCode ? INTR_INFO_ERROR_CODE : 0) | vector) >>> 0);
    vmcs.setExitField(VMCS.VM_EXIT_INTERRUPTION_ERROR_CODE, hasCode ? stop.errorCode >>> 0 : 0);
    return this.exit(EXIT_REASON.EXCEPTION_OR_NMI, vector === PF ? stop.address >>> 0 : 0, timer, length);
  }

  /** I/O qualification (SDM Table 28-5): size-1, direction, string, REP, immediate operand, port. */
  private ioExit(timer: number): number {
    const cpu = this.cpu;
    const stop = cpu.stop;
    let qualification = (stop.size - 1) | (stop.write ? 0 : 1 << 3) | (stop.string ? 1 << 4 : 0) | (stop.repeat ? 1 << 5 : 0);
    if (!stop.string && this.opcodeAtRip(stop.length) <= 0xe7) qualification |= 1 << 6;
    qualification = (qualification | (stop.port << 16)) >>> 0;
    if (stop.string) {
      // INS stores at ES:(E)DI, OUTS reads at seg:(E)SI: the linear address of the first iteration.
      const seg = stop.write ? (cpu.segOverride >= 0 ? cpu.segOverride : DS) : ES;
      const offset = stop.write ? cpu.reg32[6] : cpu.reg32[7];
      const masked = cpu.addrSize32 ? offset >>> 0 : offset & 0xffff;
      this.vmcs.setExitField(VMCS.GUEST_LINEAR_ADDRESS, (cpu.segBase[seg] + masked) >>> 0);
    }
    return this.exit(EXIT_REASON.IO_INSTRUCTION, qualification, timer, stop.length);
  }

  /** The opcode byte after prefixes of the instruction at CS:EIP (EIP is at the stopped instruction). */
  private opcodeAtRip(length: number): number {
    const cpu = this.cpu;
    for (let k = 0; k < length; k++) {
      const b = cpu.readLinear8((cpu.segBase[CS] + cpu.eip + k) | 0, false);
      if (b !== 0x66 && b !== 0x67 && b !== 0xf2 && b !== 0xf3 && b !== 0xf0 && (b & 0xe7) !== 0x26 && b !== 0x64 && b !== 0x65) return b;
    }
    return 0x100;
  }

  /** MSR bitmaps (SDM 25.6.9): read low/high at 0/1 KiB, write low/high at 2/3 KiB; other MSRs always exit. */
  private msrExits(msr: number, write: boolean): boolean {
    const vmcs = this.vmcs;
    if (!(vmcs.read(VMCS.PRIMARY_PROCESSOR_CONTROLS) & CPU_USE_MSR_BITMAPS)) return true;
    let offset: number;
    if (msr <= 0x1fff) offset = 0;
    else if (msr >= 0xc0000000 && msr <= 0xc0001fff) offset = 0x400;
    else return true;
    const bit = msr & 0x1fff;
    const address = vmcs.read(VMCS.MSR_BITMAP) + offset + (write ? 0x800 : 0) + (bit >>> 3);
    return (this.memory.read8(address) & (1 << (bit & 7))) !== 0;
  }

  /** An MSR access the bitmap lets through: the processor's own MSRs answer; the fault (#GP) for others. */
  private runMsrNatively(write: boolean, length: number): CpuFault | null {
    const cpu = this.cpu;
    const r = cpu.reg32;
    try {
      if (write) writeMsr(cpu, r[1] >>> 0, r[2], r[0]);
      else readMsr(cpu, r[1] >>> 0);
      cpu.skipInstruction(length);
      return null;
    } catch (e) {
      if (!(e instanceof CpuFault)) throw e;
      return e;
    }
  }

  /** CR-access qualification (SDM Table 28-3). */
  private crQualification(reason: 'cr-read' | 'cr-write'): number {
    const stop = this.cpu.stop;
    if (reason === 'cr-read') return stop.cr | (CR_ACCESS_MOV_FROM << 4) | (stop.gpr << 8);
    if (stop.gpr >= 0) return stop.cr | (CR_ACCESS_MOV_TO << 4) | (stop.gpr << 8);
    if (stop.opcode === 0x106) return CR_ACCESS_CLTS << 4;
    return ((CR_ACCESS_LMSW << 4) | (stop.data << 16)) >>> 0;
  }

  private eptExit(reason: 'ept-violation' | 'ept-misconfig', timer: number): number {
    const exit = this.paging.eptExit;
    this.vmcs.setExitField(VMCS.GUEST_PHYSICAL_ADDRESS, exit.guestPhysical);
    if (reason === 'ept-misconfig') return this.exit(EXIT_REASON.EPT_MISCONFIGURATION, 0, timer);
    this.vmcs.setExitField(VMCS.GUEST_LINEAR_ADDRESS, exit.guestLinear);
    return this.exit(EXIT_REASON.EPT_VIOLATION, exit.qualification, timer);
  }

  // ---- VM exit --------------------------------------------------------------------------------

  private clearExitInfo(): void {
    const vmcs = this.vmcs;
    vmcs.setExitField(VMCS.VM_EXIT_INTERRUPTION_INFO, 0);
    vmcs.setExitField(VMCS.VM_EXIT_INTERRUPTION_ERROR_CODE, 0);
    vmcs.setExitField(VMCS.IDT_VECTORING_INFO, 0);
    vmcs.setExitField(VMCS.IDT_VECTORING_ERROR_CODE, 0);
    vmcs.setExitField(VMCS.GUEST_LINEAR_ADDRESS, 0);
    vmcs.setExitField(VMCS.GUEST_PHYSICAL_ADDRESS, 0);
    vmcs.setExitField(VMCS.VM_EXIT_INSTRUCTION_LENGTH, 0);
  }

  /**
   * Records a VM exit (or, with ENTER_LIMIT, the end of the host's slice): exit reason,
   * qualification, instruction length, the guest's activity and interruptibility state, the
   * preemption timer; an event cut off during delivery becomes IDT-vectoring information.
   */
  private exit(reason: number, qualification: number, timer = 0, length = 0): number {
    const vmcs = this.vmcs;
    const cpu = this.cpu;
    if (reason >= EXIT_REASON_ENTRY_FAILURE) {
      vmcs.setExitField(VMCS.EXIT_REASON, reason);
      vmcs.setExitField(VMCS.EXIT_QUALIFICATION, 0);
      this.stats.exits[EXIT_REASON.INVALID_GUEST_STATE]++;
      return reason;
    }
    cpu.tscOffset -= this.tscOffsetApplied;
    this.tscOffsetApplied = 0;
    const stop = cpu.stop;
    if (stop.deliveringVector >= 0 && reason !== ENTER_LIMIT) {
      const type = vectoringType(stop.deliveringKind);
      const code = stop.deliveringErrorCode >= 0 && type === INTR_TYPE_HARDWARE_EXCEPTION && (HAS_ERROR_CODE >> stop.deliveringVector) & 1;
      vmcs.setExitField(VMCS.IDT_VECTORING_INFO, (INTR_INFO_VALID | (type << 8) | (code ? INTR_INFO_ERROR_CODE : 0) | stop.deliveringVector) >>> 0);
      vmcs.setExitField(VMCS.IDT_VECTORING_ERROR_CODE, code ? stop.deliveringErrorCode >>> 0 : 0);
    }
    vmcs.write(VMCS.VM_ENTRY_INTERRUPTION_INFO, vmcs.read(VMCS.VM_ENTRY_INTERRUPTION_INFO) & ~INTR_INFO_VALID);
    vmcs.write(VMCS.GUEST_ACTIVITY_STATE, cpu.halted ? ACTIVITY_HLT : ACTIVITY_ACTIVE);
    const shadow = cpu.interruptShadow;
    vmcs.write(VMCS.GUEST_INTERRUPTIBILITY_STATE,
      (shadow === 2 ? BLOCKING_BY_MOV_SS : shadow === 1 ? BLOCKING_BY_STI : 0) | (this.nmiBlocked ? BLOCKING_BY_NMI : 0));
    if (vmcs.read(VMCS.VM_EXIT_CONTROLS) & EXIT_SAVE_PREEMPTION_TIMER) {
      vmcs.write(VMCS.VMX_PREEMPTION_TIMER_VALUE, Math.max(0, Math.min(timer, 0xffffffff)));
    }
    if (reason === ENTER_LIMIT) return ENTER_LIMIT;
    vmcs.setExitField(VMCS.EXIT_REASON, reason);
    vmcs.setExitField(VMCS.EXIT_QUALIFICATION, qualification);
    vmcs.setExitField(VMCS.VM_EXIT_INSTRUCTION_LENGTH, length);
    this.stats.exits[reason]++;
    return reason;
  }
}

/** IDT-vectoring type of an event kind (SDM 28.2.4). */
function vectoringType(kind: InterruptKind): number {
  switch (kind) {
    case 'exception': return INTR_TYPE_HARDWARE_EXCEPTION;
    case 'software': return INTR_TYPE_SOFTWARE_INTERRUPT;
    case 'icebp': return INTR_TYPE_PRIVILEGED_SOFTWARE_EXCEPTION;
    case 'int3':
    case 'into': return INTR_TYPE_SOFTWARE_EXCEPTION;
    default: return INTR_TYPE_EXTERNAL;
  }
}
