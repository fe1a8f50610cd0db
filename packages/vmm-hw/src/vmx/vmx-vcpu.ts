// One vCPU of the `vmx` backend: a KVM-like VMM loop over x86-core's VMX. It configures the VMCS,
// enters the guest, and handles each VM exit as KVM does: CPUID (with its own hypervisor leaves),
// MSRs, CR0 writes, port I/O to the board's bus, MMIO through EPT violations (one instruction
// emulated), HLT, interrupt injection through the interrupt window, triple fault as shutdown.
import type {
  ExitStats, InterruptController, IoBus, PendingEvent, Registers, SegmentState, SpecialRegisters, Vcpu, VcpuState, VmExit,
} from '@ringvisor/vmm-api';
import {
  CPU_ACTIVATE_SECONDARY_CONTROLS, CPU_HLT_EXITING, CPU_INTERRUPT_WINDOW_EXITING, CPU_UNCONDITIONAL_IO_EXITING,
  CPU_USE_MSR_BITMAPS, CS, DS, ENTER_LIMIT, ENTER_VMFAIL, ES, EXIT_REASON, EXIT_REASON_NAMES, FS, GS, LDTR,
  PIN_PREEMPTION_TIMER, SECONDARY_ENABLE_EPT, SECONDARY_ENABLE_VPID, SECONDARY_UNRESTRICTED_GUEST, SS, TR, VMCS,
  Vmx, cpuid, cpuFpuImage, setCpuFpuImage, IA32_SYSENTER_CS, IA32_SYSENTER_EIP, IA32_SYSENTER_ESP, IA32_TIME_STAMP_COUNTER,
} from '@ringvisor/x86-core';
import type { EmulationResult, InstructionEmulator } from './emulator.js';

/** The SYSENTER MSRs and the VMCS guest-state fields that hold them between exit and entry. */
const SYSENTER_FIELDS: readonly (readonly [number, number])[] = [
  [IA32_SYSENTER_CS, VMCS.GUEST_IA32_SYSENTER_CS],
  [IA32_SYSENTER_ESP, VMCS.GUEST_IA32_SYSENTER_ESP],
  [IA32_SYSENTER_EIP, VMCS.GUEST_IA32_SYSENTER_EIP],
];

/** Port accesses end a run after this many of its instructions first, as strategy none does (devices see guest time). */
const IO_SYNC_INSTRUCTIONS = 100;
/** Under a host clock the TSC ticks at 100 MHz, as under the virtual clock (10 ns an instruction), as strategy none. */
const NS_PER_TSC_TICK = 10;
/** The VMM's hypervisor CPUID leaves: 0x40000000 gives the highest one and the signature. */
const HYPERVISOR_LEAF = 0x40000000;
const SIGNATURE = 'RingvisorVMX';
/** The guest's CR0.NE is the VMM's (VMX requires NE = 1): the guest sees and sets its shadow. */
const CR0_NE = 1 << 5;
const CR0_PE = 1;
const CR0_PG = 1 << 31;
const CR0_NW = 1 << 29;
const CR0_CD = 1 << 30;
const CR0_DEFINED = 0xe005003f | 0;
const CR0_ET = 1 << 4;
const RFLAGS_IF = 1 << 9;
const RFLAGS_TF = 1 << 8;
const DR6_BS = 1 << 14;
const DB = 1;
const GP = 13;
const MF = 16;
const INJECT_VALID = 0x80000000;
const TYPE_EXTERNAL = 0 << 8;
const TYPE_HARDWARE_EXCEPTION = 3 << 8;
const DELIVER_ERROR_CODE = 1 << 11;
const TYPE_NMI = 2 << 8;
/** Interruptibility state: blocking by STI (bit 0), by MOV SS (bit 1). */
const BLOCKING_BY_STI = 1;
const BLOCKING_BY_MOV_SS = 2;
/** The interrupt shadows (blocking by NMI, bit 3, leaves interrupts alone). */
const SHADOWS = BLOCKING_BY_STI | BLOCKING_BY_MOV_SS;
const DEBUG_REGISTERS = [0, 1, 2, 3, 6, 7];

const SEGMENTS: [keyof SpecialRegisters, number][] = [
  ['es', ES], ['cs', CS], ['ss', SS], ['ds', DS], ['fs', FS], ['gs', GS], ['ldt', LDTR], ['tr', TR],
];

/** The vCPU's view of its VM. */
export interface VmxVcpuContext {
  readonly io: IoBus;
  readonly interrupts: InterruptController;
  readonly stats: ExitStats;
  readonly emulator: InstructionEmulator;
  readonly eptPointer: number;
  readonly msrBitmap: number;
  readonly hostClock: { now(): number } | null;
  /** Guest-physical memory: a state import treats all of it as possibly written elsewhere. */
  readonly memory: { readonly ramEnd: number; notifyWrite(address: number, length: number): void };
}

/** Exit names for the statistics' named counters, `vmx exit <number> <SDM name>`. */
const EXIT_COUNTER = new Map([...EXIT_REASON_NAMES].map(([n, name]) => [n, `vmx exit ${n} ${name}`]));
const EPT_COUNTERS = ['ept violations (read)', 'ept violations (write)', 'ept violations (fetch)', 'ept misconfigurations', 'ept 2-D walks'];

export class VmxVcpu implements Vcpu {
  readonly vmx: Vmx;
  private readonly budgetExit: VmExit = { reason: 'budget' };
  private readonly irqWindowExit: VmExit = { reason: 'irq-window' };
  private readonly hltIf: VmExit = { reason: 'hlt', interruptsEnabled: true };
  private readonly hltNoIf: VmExit = { reason: 'hlt', interruptsEnabled: false };
  private windowWanted = false;
  /** A triple fault ended the guest: every run() says so, as a shut-down CPU would. */
  private shutdown = false;
  /** Exit and EPT counts already handed to the statistics. */
  private readonly exitsReported = new Float64Array(65);
  private readonly eptReported = new Float64Array(5);

  constructor(readonly index: number, vmx: Vmx, private readonly ctx: VmxVcpuContext) {
    this.vmx = vmx;
    const v = vmx.vmcs;
    v.write(VMCS.PIN_BASED_CONTROLS, PIN_PREEMPTION_TIMER);
    v.write(VMCS.SECONDARY_PROCESSOR_CONTROLS, SECONDARY_ENABLE_EPT | SECONDARY_ENABLE_VPID | SECONDARY_UNRESTRICTED_GUEST);
    v.write(VMCS.VPID, index + 1);
    v.write(VMCS.EPT_POINTER, ctx.eptPointer);
    v.write(VMCS.MSR_BITMAP, ctx.msrBitmap);
    v.write(VMCS.CR0_GUEST_HOST_MASK, CR0_NE);
    this.setControls(false);
    const clock = ctx.hostClock;
    if (clock !== null) vmx.cpu.tscSource = () => Math.floor(clock.now() / NS_PER_TSC_TICK);
    // The power-on state as the guest sees it, through the CR0.NE shadow.
    this.writeCr0(vmx.cpu.cr0);
  }

  private setControls(window: boolean): void {
    this.vmx.vmcs.write(VMCS.PRIMARY_PROCESSOR_CONTROLS, CPU_ACTIVATE_SECONDARY_CONTROLS | CPU_HLT_EXITING |
      CPU_UNCONDITIONAL_IO_EXITING | CPU_USE_MSR_BITMAPS | (window ? CPU_INTERRUPT_WINDOW_EXITING : 0));
  }

  get retired(): number {
    return this.vmx.cpu.retired;
  }

  get interruptible(): boolean {
    const v = this.vmx.vmcs;
    return (v.read(VMCS.GUEST_RFLAGS) & RFLAGS_IF) !== 0 && (v.read(VMCS.GUEST_INTERRUPTIBILITY_STATE) & SHADOWS) === 0 &&
      (v.read(VMCS.VM_ENTRY_INTERRUPTION_INFO) & INJECT_VALID) === 0;
  }

  requestInterruptWindow(enable: boolean): void {
    this.windowWanted = enable;
  }

  injectInterrupt(vector: number): void {
    const v = this.vmx.vmcs;
    v.write(VMCS.VM_ENTRY_INTERRUPTION_INFO, (INJECT_VALID | TYPE_EXTERNAL | (vector & 0xff)) >>> 0);
    v.write(VMCS.GUEST_ACTIVITY_STATE, 0);
  }

  /** The TSC counts retired instructions (as strategy none's does): skipped idle time moves it too. */
  advanceTsc(ticks: number): void {
    const cpu = this.vmx.cpu;
    if (cpu.tscSource === null && Number.isSafeInteger(ticks) && ticks > 0) cpu.tscOffset += ticks;
  }

  run(budget: number): VmExit {
    if (this.shutdown) return { reason: 'shutdown', cause: 'triple-fault' };
    const cpu = this.vmx.cpu;
    const start = cpu.retired;
    try {
      return this.loop(start, budget);
    } finally {
      this.flushStats();
    }
  }

  private loop(start: number, budget: number): VmExit {
    const vmx = this.vmx;
    const v = vmx.vmcs;
    const cpu = vmx.cpu;
    const stats = this.ctx.stats;
    for (;;) {
      const halted = v.read(VMCS.GUEST_ACTIVITY_STATE) !== 0;
      const injecting = this.offerInterrupt();
      if (halted && !injecting) {
        // Nothing to wake the guest: the hypervisor waits (or skips time) for an interrupt.
        stats.count('hlt');
        return (v.read(VMCS.GUEST_RFLAGS) & RFLAGS_IF) !== 0 ? this.hltIf : this.hltNoIf;
      }
      const left = budget - (cpu.retired - start);
      if (left <= 0 && !injecting) return this.budgetExit;
      // The VMX-preemption timer slices the run (one tick per instruction at rate 0).
      v.write(VMCS.VMX_PREEMPTION_TIMER_VALUE, Math.max(0, Math.min(left, 0xffffffff)));
      const reason = vmx.enter();
      switch (reason) {
        case EXIT_REASON.PREEMPTION_TIMER:
          continue;
        case EXIT_REASON.INTERRUPT_WINDOW:
          this.setControls(false);
          if (this.windowWanted) {
            stats.count('irq-window');
            return this.irqWindowExit;
          }
          continue;
        case EXIT_REASON.HLT:
          // A single-step trap ends the halt at once (its handler returns past the HLT).
          if (!this.complete()) v.write(VMCS.GUEST_ACTIVITY_STATE, 1);
          continue;
        case EXIT_REASON.IO_INSTRUCTION: {
          if (cpu.retired - start >= IO_SYNC_INSTRUCTIONS) return this.budgetExit;
          const end = this.portIo();
          if (end !== null) return end;
          continue;
        }
        case EXIT_REASON.CPUID:
          this.cpuid();
          continue;
        case EXIT_REASON.RDMSR:
        case EXIT_REASON.WRMSR:
          // The MSR bitmap passes the MSRs this CPU has (TSC, BIOS_SIGN_ID, SYSENTER); every other one is #GP(0).
          this.injectException(GP, 0);
          continue;
        case EXIT_REASON.CR_ACCESS:
          this.crAccess();
          continue;
        case EXIT_REASON.EPT_VIOLATION: {
          const end = this.eptViolation();
          if (end !== null) return end;
          continue;
        }
        case EXIT_REASON.EXCEPTION_OR_NMI: {
          // Only #MF is intercepted (guest CR0.NE = 0, see writeCr0).
          const end = this.emulate();
          if (end !== null) return end;
          continue;
        }
        case EXIT_REASON.TRIPLE_FAULT:
          this.shutdown = true;
          stats.count('shutdown');
          return { reason: 'shutdown', cause: 'triple-fault' };
        case ENTER_LIMIT:
          continue;
        case ENTER_VMFAIL:
          stats.count('internal-error');
          return { reason: 'internal-error', detail: `VMLAUNCH failed: ${vmx.entryFailure}` };
        default:
          if (reason >= 0x80000000) {
            stats.count('fail-entry');
            return { reason: 'fail-entry', code: reason, detail: `VM entry failed (exit reason ${reason & 0xffff}): ${vmx.entryFailure}` };
          }
          stats.count('internal-error');
          return { reason: 'internal-error', detail: `unexpected VM exit ${reason} (${EXIT_REASON_NAMES.get(reason) ?? 'unknown'})` };
      }
    }
  }

  /**
   * Before each entry, as KVM does: inject the controller's vector when the guest can take it,
   * otherwise ask for an interrupt-window exit. True when an injection is set up.
   */
  private offerInterrupt(): boolean {
    const v = this.vmx.vmcs;
    if (v.read(VMCS.VM_ENTRY_INTERRUPTION_INFO) & INJECT_VALID) return true;
    const interrupts = this.ctx.interrupts;
    if (interrupts.pending()) {
      if (this.interruptible) {
        this.injectInterrupt(interrupts.acknowledge());
        this.setControls(this.windowWanted);
        return true;
      }
      this.setControls(true);
      return false;
    }
    this.setControls(this.windowWanted);
    return false;
  }

  /**
   * The VMM finished the exiting instruction: past it, counted as retired (as under strategy none),
   * and an STI or MOV SS shadow it sat in is over, as KVM's skip of an emulated instruction ends it.
   * True when it queued the instruction's single-step trap.
   */
  private complete(): boolean {
    const v = this.vmx.vmcs;
    v.write(VMCS.GUEST_RIP, (v.read(VMCS.GUEST_RIP) + v.read(VMCS.VM_EXIT_INSTRUCTION_LENGTH)) >>> 0);
    const blocking = v.read(VMCS.GUEST_INTERRUPTIBILITY_STATE);
    if (blocking & SHADOWS) v.write(VMCS.GUEST_INTERRUPTIBILITY_STATE, blocking & ~SHADOWS);
    this.vmx.cpu.retired++;
    // Its single-step trap (the exiting instructions leave TF as they found it), as KVM queues it
    // when it skips an instruction: #DB on the next entry, DR6.BS set (DR6 is the CPU's own: VMX
    // does not switch it). Instructions the emulator runs take theirs there, as on the bare CPU.
    if ((v.read(VMCS.GUEST_RFLAGS) & RFLAGS_TF) === 0) return false;
    this.vmx.cpu.dr[6] |= DR6_BS;
    v.write(VMCS.VM_ENTRY_INTERRUPTION_INFO, (INJECT_VALID | TYPE_HARDWARE_EXCEPTION | DB) >>> 0);
    return true;
  }

  private injectException(vector: number, errorCode: number): void {
    const v = this.vmx.vmcs;
    v.write(VMCS.VM_ENTRY_INTERRUPTION_INFO, (INJECT_VALID | TYPE_HARDWARE_EXCEPTION | DELIVER_ERROR_CODE | vector) >>> 0);
    v.write(VMCS.VM_ENTRY_EXCEPTION_ERROR_CODE, errorCode);
    // A faulting instruction counts against the budget as strategy none counts it.
    this.vmx.cpu.retired++;
  }

  /** IN/OUT to the board's bus; string forms go through the emulator. Null when the guest goes on. */
  private portIo(): VmExit | null {
    const v = this.vmx.vmcs;
    const q = v.read(VMCS.EXIT_QUALIFICATION);
    const size = ((q & 7) + 1) as 1 | 2 | 4;
    const port = q >>> 16;
    const r = this.vmx.cpu.reg32;
    if (q & (1 << 4)) return this.emulate();
    const stats = this.ctx.stats;
    stats.count('io', port);
    if (q & (1 << 3)) {
      const value = this.ctx.io.read(port, size);
      if (size === 4) r[0] = value;
      else if (size === 2) r[0] = (r[0] & ~0xffff) | (value & 0xffff);
      else r[0] = (r[0] & ~0xff) | (value & 0xff);
    } else {
      this.ctx.io.write(port, size, size === 4 ? r[0] >>> 0 : r[0] & (size === 2 ? 0xffff : 0xff));
    }
    this.complete();
    return null;
  }

  /** CPUID: the processor's own answer, and the VMM's leaves at 0x40000000. */
  private cpuid(): void {
    const cpu = this.vmx.cpu;
    const r = cpu.reg32;
    const leaf = r[0] >>> 0;
    if (leaf === HYPERVISOR_LEAF || leaf === HYPERVISOR_LEAF + 1) {
      r[0] = leaf === HYPERVISOR_LEAF ? HYPERVISOR_LEAF + 1 : 0;
      r[3] = leaf === HYPERVISOR_LEAF ? word(0) : 0;
      r[1] = leaf === HYPERVISOR_LEAF ? word(1) : 0;
      r[2] = leaf === HYPERVISOR_LEAF ? word(2) : 0;
    } else cpuid(cpu);
    this.complete();
  }

  /** MOV to CR0 changing NE (the one bit the VMM owns): checked as the CPU checks it, NE kept set. */
  private crAccess(): void {
    const v = this.vmx.vmcs;
    const q = v.read(VMCS.EXIT_QUALIFICATION);
    const value = this.vmx.cpu.reg32[(q >>> 8) & 15] | 0;
    if ((q & 0x3f) !== 0 || (value & CR0_PG && !(value & CR0_PE)) || (value & CR0_NW && !(value & CR0_CD))) {
      this.injectException(GP, 0);
      return;
    }
    this.writeCr0(value);
    this.complete();
  }

  /** The guest's CR0 `value`: NE in the read shadow, set in the real CR0. */
  private writeCr0(value: number): void {
    const v = this.vmx.vmcs;
    const cpu = this.vmx.cpu;
    const next = (value & CR0_DEFINED) | CR0_ET;
    if ((cpu.cr0 & CR0_PE) !== 0 && (next & CR0_PE) === 0) cpu.cpl = 0;
    v.write(VMCS.CR0_READ_SHADOW, next & CR0_NE);
    v.write(VMCS.GUEST_CR0, next | CR0_NE);
    // With the guest's NE clear, an x87 error is not #MF (no FERR# line here: it is ignored, as on
    // the bare CPU): #MF exits and the instruction is emulated under the guest's CR0.
    v.write(VMCS.EXCEPTION_BITMAP, next & CR0_NE ? 0 : 1 << MF);
  }

  /**
   * EPT violations are MMIO (no memory behind the address) or writes to ROM: the instruction is
   * emulated. An event whose delivery touched such an address is delivered by the emulator.
   */
  private eptViolation(): VmExit | null {
    const v = this.vmx.vmcs;
    const vectoring = v.read(VMCS.IDT_VECTORING_INFO);
    if (vectoring & INJECT_VALID) {
      return this.afterEmulation(this.emulator().deliver(this.vmx.cpu, vectoring, v.read(VMCS.IDT_VECTORING_ERROR_CODE)));
    }
    return this.emulate();
  }

  /** One guest instruction through the emulator, under the guest's view of CR0; null when the guest goes on. */
  private emulate(): VmExit | null {
    const end = this.afterEmulation(this.emulator().step(this.vmx.cpu));
    if (end === null) this.vmx.cpu.retired++;
    return end;
  }

  /** The emulator, set to show the guest its CR0 (NE from the read shadow). */
  private emulator(): InstructionEmulator {
    const emulator = this.ctx.emulator;
    emulator.cr0Mask = CR0_NE;
    emulator.cr0Shadow = this.vmx.vmcs.read(VMCS.CR0_READ_SHADOW);
    return emulator;
  }

  private afterEmulation(result: EmulationResult): VmExit | null {
    switch (result) {
      case 'done': return null;
      case 'halted':
        this.vmx.vmcs.write(VMCS.GUEST_ACTIVITY_STATE, 1);
        return null;
      case 'shutdown':
        this.shutdown = true;
        this.ctx.stats.count('shutdown');
        return { reason: 'shutdown', cause: 'triple-fault' };
      default:
        this.ctx.stats.count('internal-error');
        return { reason: 'internal-error', detail: `instruction emulation failed: ${this.ctx.emulator.detail}` };
    }
  }

  /** VM exits by basic reason, EPT violations by kind and 2-D walks, as deltas since the last run. */
  private flushStats(): void {
    const stats = this.ctx.stats;
    if (stats.countNamed === undefined) return;
    const exits = this.vmx.stats.exits;
    for (let i = 0; i < exits.length; i++) {
      const delta = exits[i] - this.exitsReported[i];
      if (delta > 0) {
        stats.countNamed(EXIT_COUNTER.get(i) ?? `vmx exit ${i}`, delta);
        this.exitsReported[i] = exits[i];
      }
    }
    const ept = this.vmx.paging.stats;
    const values = [ept.violationsRead, ept.violationsWrite, ept.violationsFetch, ept.misconfigs, ept.walks2d];
    for (let i = 0; i < values.length; i++) {
      const delta = values[i] - this.eptReported[i];
      if (delta > 0) {
        stats.countNamed(EPT_COUNTERS[i], delta);
        this.eptReported[i] = values[i];
      }
    }
  }

  /** The guest state in the VMCS and the CPU, the event being injected, and the VMM's window request. */
  exportState(): VcpuState {
    const v = this.vmx.vmcs;
    const cpu = this.vmx.cpu;
    const info = v.read(VMCS.VM_ENTRY_INTERRUPTION_INFO);
    let pendingEvent: PendingEvent | null = null;
    if (info & INJECT_VALID) {
      const type = info & (7 << 8);
      pendingEvent = {
        vector: info & 0xff,
        kind: type === TYPE_EXTERNAL ? 'external' : type === TYPE_NMI ? 'nmi' : type === TYPE_HARDWARE_EXCEPTION ? 'exception' : 'software',
        errorCode: info & DELIVER_ERROR_CODE ? v.read(VMCS.VM_ENTRY_EXCEPTION_ERROR_CODE) : null,
      };
    }
    const blocking = v.read(VMCS.GUEST_INTERRUPTIBILITY_STATE);
    return {
      regs: this.getRegisters(),
      sregs: this.getSpecialRegisters(),
      debug: DEBUG_REGISTERS.map((i) => cpu.dr[i] >>> 0),
      msrs: [
        { index: IA32_TIME_STAMP_COUNTER, value: BigInt(cpu.readTsc()) },
        ...SYSENTER_FIELDS.map(([index, field]) => ({ index, value: BigInt(v.read(field)) })),
      ],
      fpu: cpuFpuImage(cpu),
      halted: v.read(VMCS.GUEST_ACTIVITY_STATE) !== 0,
      interruptShadow: blocking & BLOCKING_BY_MOV_SS ? 2 : blocking & BLOCKING_BY_STI ? 1 : 0,
      pendingEvent,
      interruptWindow: this.windowWanted,
    };
  }

  /**
   * Loads `state`, possibly left by this vCPU on another CPU that wrote guest memory meanwhile: as
   * KVM does when a vCPU comes to a pCPU, the TLB's translations go (INVVPID), and so does code
   * decoded or compiled from guest RAM.
   */
  importState(state: VcpuState): void {
    const event = state.pendingEvent;
    if (event?.kind === 'software') throw new RangeError('strategy hw:vmx restores no pending software interrupt (its VMM injects none)');
    if (state.debug.length !== DEBUG_REGISTERS.length) throw new RangeError(`debug registers: ${DEBUG_REGISTERS.length} values, not ${state.debug.length}`);
    const v = this.vmx.vmcs;
    const cpu = this.vmx.cpu;
    setCpuFpuImage(cpu, state.fpu);
    this.setSpecialRegisters(state.sregs);
    this.setRegisters(state.regs);
    DEBUG_REGISTERS.forEach((i, at) => { cpu.dr[i] = state.debug[at] | 0; });
    for (const msr of state.msrs) {
      const field = SYSENTER_FIELDS.find(([index]) => index === msr.index)?.[1];
      if (field !== undefined) {
        if (msr.value < 0n || msr.value > 0xffffffffn) throw new RangeError(`MSR 0x${msr.index.toString(16)}: ${msr.value} is not a 32-bit value`);
        v.write(field, Number(msr.value));
      } else if (msr.index === IA32_TIME_STAMP_COUNTER) cpu.tscOffset += Number(msr.value) - cpu.readTsc();
      else throw new RangeError(`strategy hw:vmx has no MSR 0x${msr.index.toString(16)}`);
    }
    v.write(VMCS.GUEST_ACTIVITY_STATE, state.halted ? 1 : 0);
    v.write(VMCS.GUEST_INTERRUPTIBILITY_STATE, state.interruptShadow === 2 ? BLOCKING_BY_MOV_SS : state.interruptShadow === 1 ? BLOCKING_BY_STI : 0);
    if (event === null) v.write(VMCS.VM_ENTRY_INTERRUPTION_INFO, 0);
    else {
      const type = event.kind === 'external' ? TYPE_EXTERNAL : event.kind === 'nmi' ? TYPE_NMI : TYPE_HARDWARE_EXCEPTION;
      v.write(VMCS.VM_ENTRY_INTERRUPTION_INFO, (INJECT_VALID | type | (event.errorCode !== null ? DELIVER_ERROR_CODE : 0) | (event.vector & 0xff)) >>> 0);
      if (event.errorCode !== null) v.write(VMCS.VM_ENTRY_EXCEPTION_ERROR_CODE, event.errorCode >>> 0);
    }
    this.windowWanted = state.interruptWindow;
    this.vmx.invvpid(0);
    this.ctx.memory.notifyWrite(0, this.ctx.memory.ramEnd);
  }

  getRegisters(): Registers {
    const cpu = this.vmx.cpu;
    const r = cpu.reg32;
    return {
      eax: r[0] >>> 0, ecx: r[1] >>> 0, edx: r[2] >>> 0, ebx: r[3] >>> 0,
      esp: r[4] >>> 0, ebp: r[5] >>> 0, esi: r[6] >>> 0, edi: r[7] >>> 0,
      eip: cpu.eip >>> 0, eflags: this.vmx.vmcs.read(VMCS.GUEST_RFLAGS),
    };
  }

  setRegisters(regs: Registers): void {
    const cpu = this.vmx.cpu;
    const r = cpu.reg32;
    r[0] = regs.eax; r[1] = regs.ecx; r[2] = regs.edx; r[3] = regs.ebx;
    r[4] = regs.esp; r[5] = regs.ebp; r[6] = regs.esi; r[7] = regs.edi;
    const v = this.vmx.vmcs;
    v.write(VMCS.GUEST_RIP, regs.eip >>> 0);
    v.write(VMCS.GUEST_RFLAGS, regs.eflags >>> 0);
    v.write(VMCS.GUEST_ACTIVITY_STATE, 0);
  }

  getSpecialRegisters(): SpecialRegisters {
    const v = this.vmx.vmcs;
    const segment = (i: number): SegmentState => ({
      selector: v.read(VMCS.GUEST_ES_SELECTOR + 2 * i), base: v.read(VMCS.GUEST_ES_BASE + 2 * i),
      limit: v.read(VMCS.GUEST_ES_LIMIT + 2 * i), access: v.read(VMCS.GUEST_ES_ACCESS_RIGHTS + 2 * i),
    });
    const cpu = this.vmx.cpu;
    return {
      es: segment(0), cs: segment(1), ss: segment(2), ds: segment(3), fs: segment(4), gs: segment(5),
      ldt: segment(6), tr: segment(7),
      gdt: { base: v.read(VMCS.GUEST_GDTR_BASE), limit: v.read(VMCS.GUEST_GDTR_LIMIT) },
      idt: { base: v.read(VMCS.GUEST_IDTR_BASE), limit: v.read(VMCS.GUEST_IDTR_LIMIT) },
      cr0: ((v.read(VMCS.GUEST_CR0) & ~CR0_NE) | (v.read(VMCS.CR0_READ_SHADOW) & CR0_NE)) >>> 0,
      cr2: cpu.cr2 >>> 0, cr3: v.read(VMCS.GUEST_CR3), cr4: v.read(VMCS.GUEST_CR4), efer: v.read(VMCS.GUEST_IA32_EFER),
    };
  }

  setSpecialRegisters(sregs: SpecialRegisters): void {
    const v = this.vmx.vmcs;
    for (const [name, s] of SEGMENTS) {
      const i = s === LDTR ? 6 : s === TR ? 7 : s;
      const state = sregs[name] as SegmentState;
      v.write(VMCS.GUEST_ES_SELECTOR + 2 * i, state.selector);
      v.write(VMCS.GUEST_ES_BASE + 2 * i, state.base >>> 0);
      v.write(VMCS.GUEST_ES_LIMIT + 2 * i, state.limit >>> 0);
      v.write(VMCS.GUEST_ES_ACCESS_RIGHTS + 2 * i, state.access);
    }
    v.write(VMCS.GUEST_GDTR_BASE, sregs.gdt.base >>> 0);
    v.write(VMCS.GUEST_GDTR_LIMIT, sregs.gdt.limit);
    v.write(VMCS.GUEST_IDTR_BASE, sregs.idt.base >>> 0);
    v.write(VMCS.GUEST_IDTR_LIMIT, sregs.idt.limit);
    this.vmx.cpu.cr2 = sregs.cr2 >>> 0;
    v.write(VMCS.GUEST_CR3, sregs.cr3 >>> 0);
    v.write(VMCS.GUEST_CR4, sregs.cr4 >>> 0);
    v.write(VMCS.GUEST_IA32_EFER, sregs.efer >>> 0);
    this.writeCr0(sregs.cr0);
    v.write(VMCS.GUEST_ACTIVITY_STATE, 0);
    // Loading a whole new system state starts the CPU again after a shutdown.
    this.shutdown = false;
  }
}

function word(i: number): number {
  let v = 0;
  for (let b = 0; b < 4; b++) v |= SIGNATURE.charCodeAt(i * 4 + b) << (8 * b);
  return v;
}
