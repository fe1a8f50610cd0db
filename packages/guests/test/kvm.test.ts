import { hwStrategy } from '@ringvisor/vmm-hw';
import { describe, expect, it } from 'vitest';
import { runGuest } from './support/run-guest.js';

const unavailable = hwStrategy.unavailableReason();
if (unavailable) console.warn(`skipping guests on KVM: ${unavailable}`);

// Only guests that take no interrupts and leave paging off: this machine's /dev/kvm (kvm_pvm)
// fails to emulate a 32-bit IRET (irq-test, demo) and refuses to enable 32-bit or PAE paging (demo).
describe.skipIf(unavailable !== null)('bundled guests on the KVM strategy, wired by machine', () => {
  it('firmware-hello runs from the reset vector through the ROM alias below 1 MiB', () => {
    const run = runGuest(hwStrategy, 'firmware-hello', { clock: 'host' });
    expect(run.output).toBe('Hello from firmware!\r\n');
    expect(run.exitStatus).toBe(1);
  });

  it('hello-real prints from real mode and writes the exit port', () => {
    const run = runGuest(hwStrategy, 'hello-real', { clock: 'host' });
    expect(run.output).toBe('Hello from real mode!\r\n');
    expect(run.end).toBe('halted');
    expect(run.exitStatus).toBe(1); // code 0 = success
  });

  it('hello prints from protected mode with the loader name from the multiboot info', () => {
    const run = runGuest(hwStrategy, 'hello', { clock: 'host' });
    expect(run.output).toBe('Hello from protected mode!\r\nloaded by Ringvisor\r\n');
    expect(run.end).toBe('halted');
    expect(run.exitStatus).toBe(1); // code 0 = success
  });
});
