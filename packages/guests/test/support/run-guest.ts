import { BufferSerialBackend } from '@ringvisor/devices';
import {
  HostClock, PcBoard, VirtualClock, firmwareEntry, loadFlatBinary, loadMultiboot, type EntryState,
} from '@ringvisor/machine';
import type { Vcpu, VmExit, VmmStrategy } from '@ringvisor/vmm-api';
import { GUESTS, readGuestImage, type GuestName } from '../../src/index.js';

export interface GuestRun {
  readonly output: string;
  /** 'halted': an exit-port write or HLT with interrupts off; else the exit that stopped it, or 'timeout'. */
  readonly end: VmExit['reason'] | 'halted' | 'timeout';
  /** The exit-port status (QEMU isa-debug-exit: (code << 1) | 1, so 1 = success), or null. */
  readonly exitStatus: number | null;
  /** The detail of an internal-error or fail-entry exit. */
  readonly detail?: string;
  /** Instructions retired (emulated strategies) and guest time in ns when the run ended. */
  readonly retired: number;
  readonly guestTimeNs: number;
}

export interface RunOptions {
  /** Typed on COM1 once the guest printed its expected output. */
  readonly input?: string;
  readonly clock: 'virtual' | 'host';
  readonly timeoutMs?: number;
}

/** Instructions (or ns, under KVM) per run() when no timer bounds it. */
const SLICE = 1_000_000;
const sleeper = new Int32Array(new SharedArrayBuffer(4));

/** One run() bounded by the next timer, then the clock catches up and due timers fire. */
function step(vcpu: Vcpu, clock: VirtualClock | HostClock): VmExit {
  if (clock instanceof HostClock) {
    const exit = vcpu.run(SLICE);
    clock.runDue();
    return exit;
  }
  const before = vcpu.retired;
  const exit = vcpu.run(Math.min(clock.instructionsUntilNextDeadline() ?? SLICE, SLICE));
  clock.retire(vcpu.retired - before);
  clock.runDue();
  return exit;
}

/** A halted guest waits for its next timer: jump there (virtual) or sleep until it (host). */
function waitForTimer(clock: VirtualClock | HostClock): void {
  const deadline = clock.nextDeadline();
  if (deadline === null) return;
  if (clock instanceof VirtualClock) {
    clock.advanceTo(deadline);
  } else {
    const ns = clock.nsUntilNextDeadline() ?? 0;
    if (ns > 0) Atomics.wait(sleeper, 0, 0, Math.min(ns / 1e6, 50));
  }
  clock.runDue();
}

/**
 * Boots a bundled guest on `strategy` through machine's PcBoard and loaders and runs it until it
 * halts with interrupts off, stops with another exit, or `timeoutMs` of wall time pass.
 */
export function runGuest(strategy: VmmStrategy, name: GuestName, options: RunOptions): GuestRun {
  const serial = new BufferSerialBackend();
  const clock = options.clock === 'virtual' ? new VirtualClock() : new HostClock();
  const guest = GUESTS[name];
  const image = readGuestImage(name);
  const firmware = guest.format.kind === 'firmware' ? image : undefined;
  const board = new PcBoard({ ramSize: 16 * 1024 * 1024, clock, serial, firmware });
  const vm = strategy.createVm(board.vmSpec());
  try {
    board.attachMemory(vm.memory);
    let state: EntryState;
    switch (guest.format.kind) {
      case 'firmware':
        state = firmwareEntry();
        break;
      case 'flat':
        state = loadFlatBinary(vm.memory, image, { address: guest.format.loadAddress, mode: guest.format.mode });
        break;
      case 'multiboot':
        state = loadMultiboot(vm.memory, image, { memoryMap: board.memoryMap });
        break;
      case 'xen-pv':
        throw new Error(`${name} needs a Xen PV domain builder, not the board's loaders`);
    }
    const vcpu = vm.createVcpu(0);
    vcpu.setSpecialRegisters(state.sregs);
    vcpu.setRegisters(state.regs);
    const deadline = Date.now() + (options.timeoutMs ?? 10_000);
    let pendingInput = options.input ?? '';
    let end: GuestRun['end'] = 'timeout';
    let detail: string | undefined;
    while (Date.now() < deadline) {
      const exit = step(vcpu, clock);
      if (pendingInput && serial.text().includes(guest.expectedOutput)) {
        pendingInput = pendingInput.slice(serial.type(pendingInput));
      }
      if (board.shutdownRequest) {
        end = 'halted';
        break;
      }
      if (exit.reason === 'hlt') {
        if (!exit.interruptsEnabled) {
          end = 'halted';
          break;
        }
        waitForTimer(clock);
      } else if (exit.reason !== 'budget' && exit.reason !== 'irq-window') {
        end = exit.reason;
        if (exit.reason === 'internal-error' || exit.reason === 'fail-entry') detail = exit.detail;
        break;
      }
    }
    const request = board.shutdownRequest;
    const exitStatus = request?.cause === 'exit-port' ? request.status : null;
    return { output: serial.text(), end, exitStatus, detail, retired: vcpu.retired, guestTimeNs: clock.now() };
  } finally {
    vm.destroy();
  }
}
