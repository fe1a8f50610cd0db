// SYSENTER under full, as VMware's VMM handled it: the guest's SYSENTER MSRs live in the virtual
// CPU (its WRMSRs are call-outs), the hardware's IA32_SYSENTER_CS stays 0, so a user-mode SYSENTER
// at CPL 3 raises #GP(0) to the VMM, which runs it on the virtual CPU (entering the guest kernel at
// its SYSENTER_EIP, translated) and the kernel's SYSEXIT is a call-out back to CPL 3. minikernel's
// `nb sysenter` must print what it prints under none.
import type { Vcpu, VmmStrategy } from '@ringvisor/vmm-api';
import { noneStrategy } from '@ringvisor/x86-core';
import { describe, expect, it } from 'vitest';
import { CALLOUT_NAMES, FullVcpu, fullStrategy } from '../src/index.js';
import { runGuest } from './support/run-guest.js';

const KERNEL_CS = 0x08;

/** Boots minikernel, types each command once the shell prompts for it, and returns the transcript. */
function session(strategy: VmmStrategy, commands: readonly string[]): { output: string; vcpu: Vcpu } {
  const run = runGuest(strategy, 'minikernel', { ramSize: 32 * 1024 * 1024, slice: 200_000, commands, timeoutMs: 100_000 });
  if (run.end !== 'halted') throw new Error(`minikernel under ${strategy.name} ended in ${run.end}: ${run.detail ?? ''}`);
  return { output: run.output, vcpu: run.vcpu };
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
