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

  it('delivers #NM after fpu_taskswitch(1) with TS cleared for the handler, as Xen does', () => {
    const guest = bootGuest(assembleGuest(`
_start:
  mov $traps, %ebx
  HYPERCALL 0
  mov $1, %ebx
  HYPERCALL 5
  fninit
  PRINT s_fpu, 4
  POWEROFF
nm_handler:
  PRINT s_nm, 3
  jmp hypercall_page+23*32
.data
traps:
  .byte 7, 0
  .word 0xe019
  .long nm_handler
  .long 0, 0
s_nm: .ascii "nm\\n"
s_fpu: .ascii "fpu\\n"
`));
    expect(guest.run()).toMatchObject({ reason: 'shutdown', cause: 'power-off' });
    expect(guest.output()).toBe('nm\nfpu\n');
  });
});
