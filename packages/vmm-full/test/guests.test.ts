// Popek and Goldberg's equivalence, tested on the bundled guests: under `full` each prints exactly
// what it prints on the bare emulated CPU (`none`) and retires the same instructions, so the TSC
// figures microbench prints agree too.
import { noneStrategy } from '@ringvisor/x86-core';
import { describe, expect, it } from 'vitest';
import { FullVcpu, fullStrategy } from '../src/index.js';
import { runGuest } from './support/run-guest.js';

describe('bundled guests under full match none', () => {
  it.each(['firmware-hello', 'hello-real', 'hello', 'irq-test', 'microbench', 'escape'] as const)('%s', (name) => {
    const none = runGuest(noneStrategy, name);
    const full = runGuest(fullStrategy, name);
    expect([none.end, none.exitStatus]).toEqual(['halted', 1]);
    expect([full.end, full.detail, full.exitStatus]).toEqual(['halted', undefined, 1]);
    expect(full.output).toBe(none.output);
  }, 120_000);

  it('escape finds nothing of the VMM and leaves the shadow tables and the TC consistent', () => {
    const full = runGuest(fullStrategy, 'escape');
    expect(full.exitStatus).toBe(1);
    const vcpu = full.vcpu as FullVcpu;
    expect(() => vcpu.shadow.checkInvariants()).not.toThrow();
    expect(() => vcpu.checkTranslationCache()).not.toThrow();
  }, 120_000);

  it('sensitive: every result equal, the ring-3 SGDT included, and the shadow tables consistent after', () => {
    const none = runGuest(noneStrategy, 'sensitive');
    const full = runGuest(fullStrategy, 'sensitive');
    expect([full.end, full.detail, full.exitStatus]).toEqual(['halted', undefined, 1]);
    expect(full.output).toContain('cpl3 sgdt: eax=0x0010f000 edx=0x0000007f');
    expect(full.output).toBe(none.output);
    expect(() => (full.vcpu as FullVcpu).shadow.checkInvariants()).not.toThrow();
  }, 120_000);
});
