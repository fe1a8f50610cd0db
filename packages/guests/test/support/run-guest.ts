import { BufferSerialBackend } from '@ringvisor/devices';
import { HostClock, PcBoard, loadFlatBinary, loadMultiboot, type EntryState } from '@ringvisor/machine';
import type { VmExit, VmmStrategy } from '@ringvisor/vmm-api';
import { GUESTS, readGuestImage, type GuestName } from '../../src/index.js';

export interface GuestRun {
  readonly output: string;
  /** Why the run ended: a halt with interrupts off (how the guests stop after the exit port), or another exit. */
  readonly end: VmExit['reason'] | 'halted' | 'timeout';
  readonly exitPortWrites: number;
  /** The detail of an internal-error or fail-entry exit. */
  readonly detail?: string;
}

const sleeper = new Int32Array(new SharedArrayBuffer(4));

/** A halted guest waits for its next timer: sleep the host thread instead of spinning. */
function sleepUntilNextTimer(clock: HostClock): void {
  const ns = clock.nsUntilNextDeadline();
  if (ns !== null && ns > 0) Atomics.wait(sleeper, 0, 0, Math.min(ns / 1e6, 50));
}

/**
 * Boots a bundled guest on `strategy` through machine's PcBoard and loaders, typing `input` on
 * COM1, and runs until it halts with interrupts off or `timeoutMs` of wall time pass.
 */
export function runGuest(strategy: VmmStrategy, name: GuestName, input = '', timeoutMs = 10_000): GuestRun {
  const serial = new BufferSerialBackend();
  const clock = new HostClock();
  const board = new PcBoard({ ramSize: 16 * 1024 * 1024, clock, serial });
  const vm = strategy.createVm(board.vmSpec());
  try {
    board.attachMemory(vm.memory);
    const guest = GUESTS[name];
    const image = readGuestImage(name);
    const state: EntryState = guest.format.kind === 'flat'
      ? loadFlatBinary(vm.memory, image, { address: guest.format.loadAddress, mode: guest.format.mode })
      : loadMultiboot(vm.memory, image, { memoryMap: board.memoryMap });
    const vcpu = vm.createVcpu(0);
    vcpu.setSpecialRegisters(state.sregs);
    vcpu.setRegisters(state.regs);
    const deadline = Date.now() + timeoutMs;
    let typed = input.length === 0;
    let end: GuestRun['end'] = 'timeout';
    let detail: string | undefined;
    while (Date.now() < deadline) {
      const exit = vcpu.run(1_000_000);
      clock.runDue();
      if (!typed && serial.text().includes(guest.expectedOutput)) {
        serial.type(input);
        typed = true;
      }
      if (exit.reason === 'hlt' && !exit.interruptsEnabled) {
        end = 'halted';
        break;
      }
      if (exit.reason === 'hlt') sleepUntilNextTimer(clock);
      if (exit.reason !== 'hlt' && exit.reason !== 'budget' && exit.reason !== 'irq-window') {
        end = exit.reason;
        if (exit.reason === 'internal-error' || exit.reason === 'fail-entry') detail = exit.detail;
        break;
      }
    }
    return { output: serial.text(), end, exitPortWrites: board.stats.byPort.get(0xf4) ?? 0, detail };
  } finally {
    vm.destroy();
  }
}
