import { describe, expect, it } from 'vitest';
import { assembleGuest, bootGuest, haveToolchain } from './pv-harness.js';

const toolchain = haveToolchain();

describe.skipIf(!toolchain)('a PV guest boots', () => {
  it('prints through console_io and powers off', () => {
    const guest = bootGuest(assembleGuest(`
_start:
  PRINT hello, 6
  POWEROFF
  ud2
.data
hello: .ascii "hello\\n"
`));
    const exit = guest.run();
    expect(exit).toMatchObject({ reason: 'shutdown', cause: 'power-off' });
    expect(guest.output()).toBe('hello\n');
    expect(guest.stats.named('hypercall console_io')).toBe(1);
    expect(guest.stats.named('hypercall sched_op')).toBe(1);
  });
});
