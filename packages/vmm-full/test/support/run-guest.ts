// Boots a bundled guest through machine's PcBoard and loaders under a virtual clock, on any
// strategy, and runs it to its end (exit port or HLT with interrupts off). Options: slices of
// random length, commands typed at a shell's prompts, and — under full — moving the vCPU between
// slices: its state exported and imported into the other of two VMs over the same RAM and VMM
// frames (as a type-1 hypervisor's pCPUs hold one domain), or into a fresh VM over a copy of that
// memory.
import { BufferSerialBackend } from '@ringvisor/devices';
import { GUESTS, readGuestImage, type GuestName } from '@ringvisor/guests';
import { PcBoard, VirtualClock, firmwareEntry, loadFlatBinary, loadMultiboot, type EntryState } from '@ringvisor/machine';
import type { GuestMemory, Vcpu, VcpuState, Vm, VmExit, VmSpec, VmmStrategy } from '@ringvisor/vmm-api';
import { random } from './random.js';

/** After a slice: nothing, an export only (the vCPU stays), or a move with the state. */
export type Migration = 'none' | 'export' | 'ping-pong' | 'copy';

export interface RunOptions {
  /** Largest slice in instructions (default 1,000,000); with `seed`, each slice is 1 to this long. */
  readonly slice?: number;
  readonly seed?: number;
  readonly migration?: Migration;
  /** Exports or moves after every `every`th slice (a copy of the memory and a fresh VM take tens of ms). */
  readonly every?: number;
  /** Typed one per shell prompt (`$ `). */
  readonly commands?: readonly string[];
  readonly ramSize?: number;
  readonly timeoutMs?: number;
}

export interface GuestRun {
  readonly output: string;
  readonly end: VmExit['reason'] | 'halted' | 'timeout';
  readonly detail?: string;
  readonly exitStatus: number | null;
  /** Instructions retired, over every VM the vCPU ran on. */
  readonly retired: number;
  /** Exports (and moves) made between slices. */
  readonly moves: number;
  /** The final state, where the strategy exports one. */
  readonly state: VcpuState | null;
  readonly vm: Vm;
  readonly vcpu: Vcpu;
}

/** How a run's exit ends the guest, or null to go on (after a HLT with interrupts on, at the next timer). */
function endOf(exit: VmExit, clock: VirtualClock): GuestRun['end'] | null {
  if (exit.reason === 'budget' || exit.reason === 'irq-window') return null;
  if (exit.reason !== 'hlt') return exit.reason;
  if (!exit.interruptsEnabled) return 'halted';
  const at = clock.nextDeadline();
  if (at !== null) clock.advanceTo(at);
  clock.runDue();
  return null;
}

export function runGuest(strategy: VmmStrategy, name: GuestName, options: RunOptions = {}): GuestRun {
  const { slice = 1_000_000, seed, migration = 'none', every = 1, commands = [], ramSize = 16 * 1024 * 1024 } = options;
  const serial = new BufferSerialBackend();
  const clock = new VirtualClock();
  const guest = GUESTS[name];
  const image = readGuestImage(name);
  const board = new PcBoard({ ramSize, clock, serial, firmware: guest.format.kind === 'firmware' ? image : undefined });
  let memory = new SharedArrayBuffer(strategy.hostRamSize?.(ramSize) ?? ramSize);
  const create = (): { vm: Vm; vcpu: Vcpu } => {
    const backing = memory;
    const spec: VmSpec = { ...board.vmSpec(), ramBacking: () => backing };
    const vm = strategy.createVm(spec);
    return { vm, vcpu: vm.createVcpu(0) };
  };
  const instances = [create()];
  let current = instances[0];
  // The board's DMA follows the vCPU to whichever memory it runs on.
  board.attachMemory(new Proxy(current.vm.memory, {
    get: (_, key: keyof GuestMemory) => {
      const target = current.vm.memory;
      const value = target[key];
      return typeof value === 'function' ? value.bind(target) : value;
    },
  }));
  let state: EntryState;
  if (guest.format.kind === 'firmware') state = firmwareEntry();
  else if (guest.format.kind === 'flat') state = loadFlatBinary(current.vm.memory, image, { address: guest.format.loadAddress, mode: guest.format.mode });
  else state = loadMultiboot(current.vm.memory, image, { memoryMap: board.memoryMap });
  current.vcpu.setSpecialRegisters(state.sregs);
  current.vcpu.setRegisters(state.regs);
  const lengths = seed === undefined ? () => slice : ((next) => () => 1 + (next() % slice))(random(seed));
  const pending = [...commands];
  let prompts = 0;
  let retired = 0;
  let moves = 0;
  let slices = 0;
  let end: GuestRun['end'] = 'timeout';
  let detail: string | undefined;
  const deadline = Date.now() + (options.timeoutMs ?? 200_000);
  while (Date.now() < deadline) {
    const vcpu = current.vcpu;
    const before = vcpu.retired;
    const exit = vcpu.run(Math.min(clock.instructionsUntilNextDeadline() ?? slice, lengths()));
    retired += vcpu.retired - before;
    clock.retire(vcpu.retired - before);
    clock.runDue();
    const seen = serial.text().split('$ ').length - 1;
    if (seen > prompts && pending.length > 0) {
      prompts = seen;
      serial.type(`${pending.shift()}\n`);
    }
    const ended = board.shutdownRequest ? 'halted' : endOf(exit, clock);
    if (ended !== null) {
      end = ended;
      if (exit.reason === 'internal-error') detail = exit.detail;
      break;
    }
    if (migration === 'none' || ++slices % every !== 0) continue;
    const moved = vcpu.exportState!();
    moves++;
    if (migration === 'export') continue;
    if (migration === 'copy') {
      const copy = new SharedArrayBuffer(memory.byteLength);
      new Uint8Array(copy).set(new Uint8Array(memory));
      memory = copy;
      current = create();
    } else {
      if (instances.length < 2) instances.push(create());
      current = instances[current === instances[0] ? 1 : 0];
    }
    current.vcpu.importState!(moved);
  }
  const request = board.shutdownRequest;
  return {
    output: serial.text(), end, detail, exitStatus: request?.cause === 'exit-port' ? request.status : null,
    retired, moves, state: current.vcpu.exportState?.() ?? null, vm: current.vm, vcpu: current.vcpu,
  };
}
