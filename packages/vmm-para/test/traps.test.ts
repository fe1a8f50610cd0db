import { describe, expect, it } from 'vitest';
import { TRAPS_GUEST } from './guests/traps-guest.js';
import { assembleGuest, bootGuest, haveToolchain } from './pv-harness.js';

const toolchain = haveToolchain();

describe.skipIf(!toolchain)('traps, events and rings under para', () => {
  it('bounces traps with 386 frames, delivers the timer upcall, runs ring 3', () => {
    const guest = bootGuest(assembleGuest(TRAPS_GUEST));
    const exit = guest.run();
    expect(guest.output()).toBe('sys\nback\npf\nafter-pf\ntick\nwoke\ngp\nuser\n');
    expect(exit).toMatchObject({ reason: 'shutdown', cause: 'power-off' });
    expect(guest.stats.named('events delivered')).toBe(1);
    expect(guest.stats.named('hypercall iret')).toBe(5);
  });
});
