import { noneStrategy } from '@ringvisor/x86-core';
import { describe, expect, it } from 'vitest';
import { runGuest } from './support/run-guest.js';

// The emulated CPU (strategy `none`) with a virtual clock: every run is reproducible.
describe('bundled guests on the emulated CPU, wired by machine', () => {
  it('firmware-hello runs from the reset vector through the ROM alias below 1 MiB', () => {
    const run = runGuest(noneStrategy, 'firmware-hello', { clock: 'virtual' });
    expect([run.end, run.detail]).toEqual(['halted', undefined]);
    expect(run.output).toBe('Hello from firmware!\r\n');
    expect(run.exitStatus).toBe(1);
  });

  it('hello-real prints from real mode and writes the exit port', () => {
    const run = runGuest(noneStrategy, 'hello-real', { clock: 'virtual' });
    expect([run.end, run.detail]).toEqual(['halted', undefined]);
    expect(run.output).toBe('Hello from real mode!\r\n');
    expect(run.exitStatus).toBe(1); // code 0 = success
  });

  it('hello prints from protected mode with the loader name', () => {
    const run = runGuest(noneStrategy, 'hello', { clock: 'virtual' });
    expect([run.end, run.detail]).toEqual(['halted', undefined]);
    expect(run.output).toBe('Hello from protected mode!\r\nloaded by Ringvisor\r\n');
    expect(run.exitStatus).toBe(1);
  });

  it('irq-test counts 100 ± 10 PIT ticks across one RTC second', () => {
    const run = runGuest(noneStrategy, 'irq-test', { clock: 'virtual' });
    expect([run.end, run.detail]).toEqual(['halted', undefined]);
    expect(run.output).toContain('irq-test: PASS');
    expect(run.exitStatus).toBe(1);
  });

  it('microbench reports every operation in TSC cycles (instructions retired here)', () => {
    const run = runGuest(noneStrategy, 'microbench', { clock: 'virtual' });
    expect([run.end, run.detail]).toEqual(['halted', undefined]);
    for (const name of ['call/ret', 'int/iret', 'in-port', 'out-port', 'cpuid', 'divide-error', 'pte-update', 'page-fault']) {
      expect(run.output).toMatch(new RegExp(`microbench: ${name} \\d+ cycles/op`));
    }
    expect(run.output).toContain('microbench: done');
    expect(run.exitStatus).toBe(1);
  });

  it('demo answers help, info, bench and poweroff typed on COM1', () => {
    // The first key both leaves the live counter and starts the first command: nothing is lost.
    const run = runGuest(noneStrategy, 'demo', { clock: 'virtual', input: 'help\rinfo\rbench\rpoweroff\r', timeoutMs: 20_000 });
    expect([run.end, run.detail]).toEqual(['halted', undefined]);
    expect(run.output).toContain('Ringvisor demo');
    expect(run.output).toMatch(/> help\r?\n/);
    expect(run.output).not.toContain('unknown command');
    expect(run.output).toContain('Memory: 16 MiB (from multiboot)');
    expect(run.output).toMatch(/help {6}this list/);
    expect(run.output).toMatch(/bench: \d+ iterations per tick/);
    expect(run.output).toContain('Powering off');
    expect(run.exitStatus).toBe(1); // code 0 = success
  }, 30_000);

  it('runs bit-for-bit reproducibly under the virtual clock', () => {
    const first = runGuest(noneStrategy, 'irq-test', { clock: 'virtual' });
    const second = runGuest(noneStrategy, 'irq-test', { clock: 'virtual' });
    expect(second.output).toBe(first.output);
    expect(second.retired).toBe(first.retired);
    expect(second.guestTimeNs).toBe(first.guestTimeNs);
    expect(first.guestTimeNs).toBeGreaterThan(1e9); // it waited for an RTC second boundary and one whole second
  });
});
