// Boots a bundled guest through machine's PcBoard and loaders under a virtual clock, on any
// strategy, and runs it to its end (exit port or HLT with interrupts off).
import { BufferSerialBackend } from '@ringvisor/devices';
import { GUESTS, readGuestImage, type GuestName } from '@ringvisor/guests';
import { PcBoard, VirtualClock, firmwareEntry, loadFlatBinary, loadMultiboot, type EntryState } from '@ringvisor/machine';
import type { Vcpu, Vm, VmExit, VmmStrategy } from '@ringvisor/vmm-api';

export interface GuestRun {
  readonly output: string;
  readonly end: VmExit['reason'] | 'halted' | 'timeout';
  readonly detail?: string;
  readonly exitStatus: number | null;
  readonly retired: number;
  readonly vm: Vm;
  readonly vcpu: Vcpu;
}

const SLICE = 1_000_000;

export function runGuest(strategy: VmmStrategy, name: GuestName, timeoutMs = 60_000): GuestRun {
  const serial = new BufferSerialBackend();
  const clock = new VirtualClock();
  const guest = GUESTS[name];
  const image = readGuestImage(name);
  const board = new PcBoard({ ramSize: 16 * 1024 * 1024, clock, serial, firmware: guest.format.kind === 'firmware' ? image : undefined });
  const vm = strategy.createVm(board.vmSpec());
  board.attachMemory(vm.memory);
  let state: EntryState;
  if (guest.format.kind === 'firmware') state = firmwareEntry();
  else if (guest.format.kind === 'flat') state = loadFlatBinary(vm.memory, image, { address: guest.format.loadAddress, mode: guest.format.mode });
  else state = loadMultiboot(vm.memory, image, { memoryMap: board.memoryMap });
  const vcpu = vm.createVcpu(0);
  vcpu.setSpecialRegisters(state.sregs);
  vcpu.setRegisters(state.regs);
  const deadline = Date.now() + timeoutMs;
  let end: GuestRun['end'] = 'timeout';
  let detail: string | undefined;
  while (Date.now() < deadline) {
    const before = vcpu.retired;
    const exit = vcpu.run(Math.min(clock.instructionsUntilNextDeadline() ?? SLICE, SLICE));
    clock.retire(vcpu.retired - before);
    clock.runDue();
    if (board.shutdownRequest) {
      end = 'halted';
      break;
    }
    if (exit.reason === 'hlt') {
      if (!exit.interruptsEnabled) {
        end = 'halted';
        break;
      }
      const next = clock.nextDeadline();
      if (next !== null) clock.advanceTo(next);
      clock.runDue();
    } else if (exit.reason !== 'budget' && exit.reason !== 'irq-window') {
      end = exit.reason;
      if (exit.reason === 'internal-error') detail = exit.detail;
      break;
    }
  }
  const request = board.shutdownRequest;
  return {
    output: serial.text(), end, detail, exitStatus: request?.cause === 'exit-port' ? request.status : null,
    retired: vcpu.retired, vm, vcpu,
  };
}
