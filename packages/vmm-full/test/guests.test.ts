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

  it('sensitive: every result equal except the ring-3 SGDT, which shows the shadow GDT (known gap)', () => {
    const none = runGuest(noneStrategy, 'sensitive');
    const full = runGuest(fullStrategy, 'sensitive');
    expect([full.end, full.detail, full.exitStatus]).toEqual(['halted', undefined, 1]);
    const a = none.output.split('\r\n');
    const b = full.output.split('\r\n');
    expect(b.length).toBe(a.length);
    const differing = a.map((line, i) => [line, b[i]]).filter(([x, y]) => x !== y);
    expect(differing.map(([x]) => x.split(':')[0])).toEqual(['cpl3 sgdt']);
    expect(differing[0][1]).toBe('cpl3 sgdt: eax=0xffc00000 edx=0x0000ffff');
  }, 120_000);
});
