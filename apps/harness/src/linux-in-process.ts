// Debian's i686 kernel (or its amd64 one on the x86-64 model) on a PC board with strategy `none`, in this process (for the commands that
// look inside the run: `profile linux`, `bench xz`).
import { loadLinux, PcBoard, VirtualClock } from '@ringvisor/machine';
import type { Vcpu, Vm } from '@ringvisor/vmm-api';
import { noneStrategy, noneX86_64Strategy } from '@ringvisor/x86-core';

const MiB = 1024 * 1024;

export interface InProcessLinux {
  board: PcBoard;
  vm: Vm;
  /** At the kernel's entry. */
  vcpu: Vcpu;
}

/**
 * Loads `kernel` (a bzImage or a vmlinux ELF) and `initrd` into a 128 MiB board timed by `clock`
 * (256 MiB and the x86-64 model with `amd64`); the console goes to `serial`.
 */
export function linuxInProcess(
  clock: VirtualClock, kernel: Uint8Array, initrd: Uint8Array, cmdline: string, serial: { write(bytes: Uint8Array): number },
  amd64 = false,
): InProcessLinux {
  // The A20 gate reaches the VM once it exists (the board reports changes from its constructor on).
  const a20: { vm?: { setA20?(enabled: boolean): void } } = {};
  const board = new PcBoard({ ramSize: (amd64 ? 256 : 128) * MiB, clock, serial, onA20: (enabled) => a20.vm?.setA20?.(enabled) });
  const vm = (amd64 ? noneX86_64Strategy : noneStrategy).createVm(board.vmSpec());
  board.attachMemory(vm.memory);
  a20.vm = vm;
  vm.setA20?.(board.a20);
  const entry = loadLinux(vm.memory, kernel, { memoryMap: board.memoryMap, cmdline, initrd });
  const vcpu = vm.createVcpu(0);
  vcpu.setSpecialRegisters(entry.sregs);
  vcpu.setRegisters(entry.regs);
  return { board, vm, vcpu };
}
