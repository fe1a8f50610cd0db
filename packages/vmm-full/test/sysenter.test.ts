// SYSENTER under full, as VMware's VMM handled it: the guest's SYSENTER MSRs live in the virtual
// CPU (its WRMSRs are call-outs), the hardware's IA32_SYSENTER_CS stays 0, so a user-mode SYSENTER
// at CPL 3 raises #GP(0) to the VMM, which runs it on the virtual CPU (entering the guest kernel at
// its SYSENTER_EIP, translated) and the kernel's SYSEXIT is a call-out back to CPL 3. minikernel's
// `nb sysenter` must print what it prints under none.
import { BufferSerialBackend } from '@ringvisor/devices';
import { readGuestImage } from '@ringvisor/guests';
import { PcBoard, VirtualClock, loadMultiboot } from '@ringvisor/machine';
import type { Vcpu, VmmStrategy } from '@ringvisor/vmm-api';
import { noneStrategy } from '@ringvisor/x86-core';
import { describe, expect, it } from 'vitest';
import { CALLOUT_NAMES, FullVcpu, fullStrategy } from '../src/index.js';

const SLICE = 200_000;
const KERNEL_CS = 0x08;

/** Boots minikernel, types each command once the shell prompts for it, and returns the transcript. */
function session(strategy: VmmStrategy, commands: readonly string[]): { output: string; vcpu: Vcpu } {
  const serial = new BufferSerialBackend();
  const clock = new VirtualClock();
  const board = new PcBoard({ ramSize: 32 * 1024 * 1024, clock, serial });
  const vm = strategy.createVm(board.vmSpec());
  board.attachMemory(vm.memory);
  const state = loadMultiboot(vm.memory, readGuestImage('minikernel'), { memoryMap: board.memoryMap });
  const vcpu = vm.createVcpu(0);
  vcpu.setSpecialRegisters(state.sregs);
  vcpu.setRegisters(state.regs);
  const pending = [...commands];
  let prompts = 0;
  const deadline = Date.now() + 100_000;
  while (Date.now() < deadline && !board.shutdownRequest) {
    const before = vcpu.retired;
    const exit = vcpu.run(Math.min(clock.instructionsUntilNextDeadline() ?? SLICE, SLICE));
    clock.retire(vcpu.retired - before);
    clock.runDue();
    const seen = serial.text().split('$ ').length - 1;
    if (seen > prompts && pending.length > 0) {
      prompts = seen;
      serial.type(`${pending.shift()}\n`);
    }
    if (exit.reason === 'hlt') {
      const next = clock.nextDeadline();
      if (next !== null) clock.advanceTo(next);
      clock.runDue();
    } else if (exit.reason !== 'budget' && exit.reason !== 'irq-window') {
      throw new Error(`minikernel under ${strategy.name} ended in ${exit.reason}: ${'detail' in exit ? String(exit.detail) : ''}`);
    }
  }
  return { output: serial.text(), vcpu };
}

describe('SYSENTER/SYSEXIT under full', () => {
  it('nb sysenter prints what it prints under none; user SYSENTERs trap, SYSEXITs are call-outs, the hardware MSR stays 0', () => {
    const commands = ['nb sysenter 0', 'nb sysenter 50', 'poweroff'];
    const none = session(noneStrategy, commands);
    expect(none.output).toMatch(/nb: sysenter \d+ cycles[\s\S]*nb: sysenter \d+ cycles/);
    const full = session(fullStrategy, commands);
    expect(full.output).toBe(none.output);
    const vcpu = full.vcpu as FullVcpu;
    // The guest's MSRs are the virtual CPU's; the hardware's CS never left 0, so ring-3 SYSENTERs fault.
    expect(vcpu.virt.sysenterCs).toBe(KERNEL_CS);
    expect(vcpu.hw.sysenterCs).toBe(0);
    expect(vcpu.counters.traps[0x134]).toBe(50);
    expect(vcpu.counters.callouts[CALLOUT_NAMES.indexOf('other')]).toBeGreaterThanOrEqual(50);
  }, 240_000);
});
