// One KVM vCPU: its fd, its mmap'ed kvm_run page, and the run loop that handles port I/O and MMIO
// exits itself (dispatching to the VM's buses and counting them) until an exit the hypervisor
// must see, or until the run's time slice is used up.
import type {
  AccessSize, IoBus, MmioBus, InterruptController, ExitStats, Registers, SpecialRegisters, Vcpu, VmExit,
} from '@ringvisor/vmm-api';
import {
  KVM_EXIT_FAIL_ENTRY, KVM_EXIT_HLT, KVM_EXIT_INTERNAL_ERROR, KVM_EXIT_INTR, KVM_EXIT_IO, KVM_EXIT_IO_OUT,
  KVM_EXIT_IRQ_WINDOW_OPEN, KVM_EXIT_MMIO, KVM_EXIT_SHUTDOWN, KVM_GET_REGS, KVM_GET_SREGS, KVM_INTERRUPT,
  KVM_RUN, KVM_SET_REGS, KVM_SET_SREGS,
} from './kvm/constants.js';
import {
  KVM_INTERNAL_ERROR_EMULATION, KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES, KVM_INTERNAL_ERROR_MAX_DATA,
  KVM_INTERRUPT_ARG, KVM_REGS, KVM_RUN_PAGE, KVM_SREGS,
} from './kvm/layout.js';
import { EAGAIN, EINTR, type Libc } from './kvm/libc.js';
import { check } from './kvm/system.js';
import { decodeRegisters, decodeSpecialRegisters, encodeRegisters, encodeSpecialRegisters } from './registers.js';
import { TimeSlice } from './timeslice.js';

/**
 * How a run() budget (an instruction count, as emulated strategies take it) becomes guest time:
 * one instruction per nanosecond, a 1 GHz IPC-1 CPU. `retired` is the guest time converted back.
 */
export const NS_PER_BUDGET_UNIT = 1;

/** What a vCPU needs from its VM. */
export interface VcpuContext {
  readonly libc: Libc;
  readonly io: IoBus;
  readonly mmio: MmioBus;
  readonly interrupts: InterruptController;
  readonly stats: ExitStats;
  /** True for guest-physical addresses of ROM (a read-only slot): guest writes there are dropped. */
  isRom(address: number): boolean;
}

const CR0_PE = 1;
const CR0_PG = 0x8000_0000;

/** The vCPU cannot be put in the CPU mode a loader asked for (see HwVcpu.setSpecialRegisters). */
export class KvmModeError extends Error {
  override readonly name = 'KvmModeError';
}

const BUDGET: VmExit = { reason: 'budget' };
const IRQ_WINDOW: VmExit = { reason: 'irq-window' };
const HLT_IF: VmExit = { reason: 'hlt', interruptsEnabled: true };
const HLT_NO_IF: VmExit = { reason: 'hlt', interruptsEnabled: false };

/** A little-endian value of one bus access from the run page (I/O data area, mmio.data). */
function readData(d: DataView, at: number, size: AccessSize): number {
  return size === 1 ? d.getUint8(at) : size === 2 ? d.getUint16(at, true) : d.getUint32(at, true);
}

/**
 * A __u64 of the run page as a number, from two dword reads: getBigUint64 would allocate a BigInt
 * on every exit. Exact below 2^53, which covers guest-physical addresses and page offsets.
 */
function readU64(d: DataView, at: number): number {
  return d.getUint32(at + 4, true) * 0x1_0000_0000 + d.getUint32(at, true);
}

function writeData(d: DataView, at: number, size: AccessSize, value: number): void {
  if (size === 1) d.setUint8(at, value & 0xff);
  else if (size === 2) d.setUint16(at, value & 0xffff, true);
  else d.setUint32(at, value >>> 0, true);
}

export class HwVcpu implements Vcpu {
  private readonly run8: Uint8Array;
  private readonly runData: DataView;
  private readonly regs = new Uint8Array(KVM_REGS.size);
  private readonly regsData = new DataView(this.regs.buffer);
  private readonly sregs = new Uint8Array(KVM_SREGS.size);
  private readonly sregsData = new DataView(this.sregs.buffer);
  private readonly irq = new Uint8Array(KVM_INTERRUPT_ARG.size);
  private readonly irqData = new DataView(this.irq.buffer);
  private windowWanted = false;
  /** The last exit was I/O or MMIO: KVM finishes it (stores IN data, advances RIP) on the next KVM_RUN. */
  private ioPending = false;
  private slice: TimeSlice | null | undefined;
  private retiredNs = 0;
  private destroyed = false;
  /** Inside run(): destroy() then leaves the run page and fd to run()'s end (see destroy). */
  private running = false;
  private readonly destroyedExit: VmExit;

  constructor(
    private readonly ctx: VcpuContext,
    readonly index: number,
    private readonly fd: number,
    private readonly runAddress: bigint,
    private readonly runSize: number,
    private readonly immediateExit: boolean,
  ) {
    this.destroyedExit = { reason: 'shutdown', cause: 'power-off', detail: `vCPU ${index} destroyed during run()` };
    const page = ctx.libc.koffi.view(runAddress, runSize);
    this.run8 = new Uint8Array(page);
    this.runData = new DataView(page);
  }

  /** KVM cannot count guest instructions: `retired` is guest time at one instruction per ns. */
  readonly retiredIsEstimate = true;

  get retired(): number {
    return Math.floor(this.retiredNs / NS_PER_BUDGET_UNIT);
  }

  get interruptible(): boolean {
    return !this.destroyed && this.run8[KVM_RUN_PAGE.ready_for_interrupt_injection] !== 0;
  }

  requestInterruptWindow(enable: boolean): void {
    this.windowWanted = enable;
  }

  injectInterrupt(vector: number): void {
    this.checkAlive();
    this.irqData.setUint32(KVM_INTERRUPT_ARG.irq, vector & 0xff, true);
    this.ioctl('KVM_INTERRUPT', KVM_INTERRUPT, this.irq);
    // One injection per entry: until KVM_RUN reports again, the guest counts as not ready.
    this.run8[KVM_RUN_PAGE.ready_for_interrupt_injection] = 0;
  }

  run(budget: number): VmExit {
    this.checkAlive();
    const sliceNs = budget > 0 ? budget * NS_PER_BUDGET_UNIT : 0; // NaN and negatives: one pass
    const start = performance.now();
    const deadline = start + sliceNs / 1e6;
    if (this.slice === undefined) this.slice = TimeSlice.forCurrentThread(this.ctx.libc);
    this.slice?.arm(sliceNs);
    this.running = true;
    try {
      return this.loop(deadline);
    } finally {
      this.running = false;
      this.slice?.disarm();
      this.retiredNs += (performance.now() - start) * 1e6;
      if (this.destroyed) this.release();
    }
  }

  private loop(deadline: number): VmExit {
    const { libc, stats } = this.ctx;
    const run8 = this.run8;
    for (;;) {
      this.offerInterrupt();
      const rc = libc.ioctl(this.fd, KVM_RUN, null);
      this.ioPending = false;
      if (rc < 0) {
        const errno = libc.errno();
        if (errno !== EINTR && errno !== EAGAIN) check(libc, 'KVM_RUN', rc);
        // The time-slice signal, or one left pending from the previous run(): only time decides.
        if (performance.now() >= deadline) return this.budgetExit();
        continue;
      }
      switch (this.runData.getUint32(KVM_RUN_PAGE.exit_reason, true)) {
        case KVM_EXIT_IO:
          this.handleIo();
          break;
        case KVM_EXIT_MMIO:
          this.handleMmio();
          break;
        case KVM_EXIT_HLT:
          stats.count('hlt');
          return run8[KVM_RUN_PAGE.if_flag] ? HLT_IF : HLT_NO_IF;
        case KVM_EXIT_IRQ_WINDOW_OPEN:
          stats.count('irq-window');
          if (this.windowWanted) return IRQ_WINDOW;
          break; // our own request: offerInterrupt() injects now
        case KVM_EXIT_INTR:
          break;
        case KVM_EXIT_SHUTDOWN:
          stats.count('shutdown');
          return { reason: 'shutdown', cause: 'triple-fault', detail: 'KVM_EXIT_SHUTDOWN' };
        case KVM_EXIT_FAIL_ENTRY:
          return this.failEntry();
        case KVM_EXIT_INTERNAL_ERROR:
          return this.internalError();
        default:
          stats.count('internal-error');
          return { reason: 'internal-error', detail: `unhandled KVM exit reason ${this.runData.getUint32(KVM_RUN_PAGE.exit_reason, true)}` };
      }
      // A device's handler may have torn the VM down: not one more look at the run page.
      if (this.destroyed) return this.destroyedExit;
      // A nested KVM may let the window open without an exit of its own; the run page tells.
      if (this.windowWanted && run8[KVM_RUN_PAGE.ready_for_interrupt_injection]) {
        this.completeIo();
        stats.count('irq-window');
        return IRQ_WINDOW;
      }
      if (performance.now() >= deadline) return this.budgetExit();
    }
  }

  /**
   * Before each KVM_RUN: inject the controller's vector when the guest can take it, otherwise ask
   * KVM to exit as soon as it can (IRQ_WINDOW_OPEN) so the next pass injects it.
   */
  private offerInterrupt(): void {
    const run8 = this.run8;
    let window = this.windowWanted;
    if (this.ctx.interrupts.pending()) {
      if (run8[KVM_RUN_PAGE.ready_for_interrupt_injection]) {
        this.injectInterrupt(this.ctx.interrupts.acknowledge());
      } else {
        window = true;
      }
    }
    run8[KVM_RUN_PAGE.request_interrupt_window] = window ? 1 : 0;
  }

  /** Port I/O, string forms included: `count` items of `size` bytes at io.data_offset in the run page. */
  private handleIo(): void {
    const d = this.runData;
    const out = this.run8[KVM_RUN_PAGE.io_direction] === KVM_EXIT_IO_OUT;
    const size = this.run8[KVM_RUN_PAGE.io_size] as AccessSize;
    const port = d.getUint16(KVM_RUN_PAGE.io_port, true);
    const count = d.getUint32(KVM_RUN_PAGE.io_count, true);
    const offset = readU64(d, KVM_RUN_PAGE.io_data_offset);
    this.ctx.stats.count('io', port);
    this.ioPending = true;
    if ((size !== 1 && size !== 2 && size !== 4) || offset + count * size > this.runSize) return;
    const io = this.ctx.io;
    for (let i = 0, at = offset; i < count && !this.destroyed; i++, at += size) {
      if (out) io.write(port, size, readData(d, at, size));
      else writeData(d, at, size, io.read(port, size));
    }
  }

  /** MMIO of 1..8 bytes, cut into accesses the vmm-api bus takes (4, 2, 1 bytes). */
  private handleMmio(): void {
    const d = this.runData;
    const address = readU64(d, KVM_RUN_PAGE.mmio_phys_addr);
    const len = Math.min(8, d.getUint32(KVM_RUN_PAGE.mmio_len, true));
    const write = this.run8[KVM_RUN_PAGE.mmio_is_write] !== 0;
    this.ctx.stats.count('mmio');
    this.ioPending = true;
    if (write && this.ctx.isRom(address)) return; // a write to ROM: the read-only slot drops it
    const mmio = this.ctx.mmio;
    for (let off = 0; off < len && !this.destroyed;) {
      const size: AccessSize = len - off >= 4 ? 4 : len - off >= 2 ? 2 : 1;
      const at = KVM_RUN_PAGE.mmio_data + off;
      if (write) mmio.write(address + off, size, readData(d, at, size));
      else writeData(d, at, size, mmio.read(address + off, size));
      off += size;
    }
  }

  private failEntry(): VmExit {
    this.ctx.stats.count('fail-entry');
    const d = this.runData;
    const code = Number(d.getBigUint64(KVM_RUN_PAGE.fail_entry_hardware_entry_failure_reason, true));
    const cpu = d.getUint32(KVM_RUN_PAGE.fail_entry_cpu, true);
    return {
      reason: 'fail-entry',
      code,
      detail: `KVM_EXIT_FAIL_ENTRY: hardware entry failure reason 0x${code.toString(16)} on host CPU ${cpu}`,
    };
  }

  private internalError(): VmExit {
    this.ctx.stats.count('internal-error');
    const d = this.runData;
    const suberror = d.getUint32(KVM_RUN_PAGE.internal_suberror, true);
    const ndata = Math.min(KVM_INTERNAL_ERROR_MAX_DATA, d.getUint32(KVM_RUN_PAGE.internal_ndata, true));
    const names: Record<number, string> = { 1: 'emulation failure', 2: 'simultaneous exceptions', 3: 'exit while delivering an event', 4: 'unexpected exit reason' };
    let what = `data [${Array.from({ length: ndata }, (_, i) => `0x${d.getBigUint64(KVM_RUN_PAGE.internal_data + 8 * i, true).toString(16)}`).join(', ')}]`;
    const flags = ndata > 0 ? d.getBigUint64(KVM_RUN_PAGE.internal_data, true) : 0n;
    if (suberror === KVM_INTERNAL_ERROR_EMULATION && (flags & KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES)) {
      const size = Math.min(15, this.run8[KVM_RUN_PAGE.emulation_failure_insn_size]);
      const at = KVM_RUN_PAGE.emulation_failure_insn_bytes;
      what = `instruction bytes ${Array.from(this.run8.subarray(at, at + size), (b) => b.toString(16).padStart(2, '0')).join(' ')}`;
    }
    this.ioctl('KVM_GET_REGS', KVM_GET_REGS, this.regs);
    const rip = this.regsData.getBigUint64(KVM_REGS.rip, true);
    return {
      reason: 'internal-error',
      detail: `KVM_EXIT_INTERNAL_ERROR suberror ${suberror} (${names[suberror] ?? 'unknown'}) at RIP 0x${rip.toString(16)}: ${what}`,
    };
  }

  private budgetExit(): VmExit {
    this.completeIo();
    return BUDGET;
  }

  /**
   * KVM finishes an I/O or MMIO exit (IN data into registers, RIP past the instruction) only when
   * KVM_RUN is entered again. Entering with immediate_exit set does exactly that and nothing more,
   * so the state the hypervisor reads between runs is consistent.
   */
  private completeIo(): void {
    if (!this.ioPending || !this.immediateExit) return;
    this.ioPending = false;
    this.run8[KVM_RUN_PAGE.immediate_exit] = 1;
    const rc = this.ctx.libc.ioctl(this.fd, KVM_RUN, null);
    this.run8[KVM_RUN_PAGE.immediate_exit] = 0;
    if (rc < 0 && this.ctx.libc.errno() !== EINTR) check(this.ctx.libc, 'KVM_RUN (completing I/O)', rc);
  }

  getRegisters(): Registers {
    this.checkAlive();
    this.completeIo();
    this.ioctl('KVM_GET_REGS', KVM_GET_REGS, this.regs);
    return decodeRegisters(this.regsData);
  }

  setRegisters(regs: Registers): void {
    this.checkAlive();
    this.completeIo();
    this.ioctl('KVM_GET_REGS', KVM_GET_REGS, this.regs); // keeps r8..r15, which the vmm-api does not name
    encodeRegisters(this.regsData, regs);
    this.ioctl('KVM_SET_REGS', KVM_SET_REGS, this.regs);
  }

  getSpecialRegisters(): SpecialRegisters {
    this.checkAlive();
    this.completeIo();
    this.ioctl('KVM_GET_SREGS', KVM_GET_SREGS, this.sregs);
    return decodeSpecialRegisters(this.sregsData);
  }

  setSpecialRegisters(sregs: SpecialRegisters): void {
    this.checkAlive();
    this.completeIo();
    this.ioctl('KVM_GET_SREGS', KVM_GET_SREGS, this.sregs);
    encodeSpecialRegisters(this.sregsData, sregs);
    this.ioctl('KVM_SET_SREGS', KVM_SET_SREGS, this.sregs);
    this.checkModeTaken(sregs);
  }

  /**
   * After destroy() the run page is unmapped and the fd number may already belong to another
   * file: every entry point that would touch either refuses instead.
   */
  private checkAlive(): void {
    if (this.destroyed) throw new Error(`vCPU ${this.index} was destroyed`);
  }

  private ioctl(name: string, request: number, arg: Uint8Array): void {
    check(this.ctx.libc, name, this.ctx.libc.ioctl(this.fd, request, arg));
  }

  /**
   * Some KVMs accept KVM_SET_SREGS yet keep a different CPU mode (a nested paravirtual KVM such as
   * kvm_pvm drops CR0.PG outside long mode). Running on would execute the guest in the wrong mode,
   * so a mode that did not take is an error here, not a surprise later.
   */
  private checkModeTaken(asked: SpecialRegisters): void {
    this.ioctl('KVM_GET_SREGS', KVM_GET_SREGS, this.sregs);
    const mode = (cr0: number): number => Number(BigInt(cr0 < 0 ? cr0 >>> 0 : cr0) & BigInt(CR0_PE | CR0_PG));
    const got = Number(this.sregsData.getBigUint64(KVM_SREGS.cr0, true) & BigInt(CR0_PE | CR0_PG));
    if (got !== mode(asked.cr0)) {
      throw new KvmModeError(
        `KVM_SET_SREGS: KVM kept CR0 PE/PG = 0x${got.toString(16)} where 0x${mode(asked.cr0).toString(16)} was asked `
        + `(CR4 0x${asked.cr4.toString(16)}, EFER 0x${asked.efer.toString(16)}): this KVM does not run guests in that mode`,
      );
    }
  }

  /**
   * Frees the timer, the run page and the fd. Called from a device's handler during run() (a
   * power-off port, say), it only marks the vCPU: run() stops at once and frees them on its way
   * out, since the loop still reads the run page until it sees the mark.
   */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    if (!this.running) this.release();
  }

  private release(): void {
    this.slice?.delete();
    this.ctx.libc.munmap(this.runAddress, this.runSize);
    this.ctx.libc.close(this.fd);
  }
}
