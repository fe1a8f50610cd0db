import { describe, expect, it } from 'vitest';
import { assembleGuest, bootGuest, haveToolchain } from './pv-harness.js';

const toolchain = haveToolchain();

/** Registers `failsafe` (or none) and a ring-1 kernel stack, sets FS to a value the frame must show. */
const SETUP = (failsafe: string) => `
_start:
  mov $traps, %ebx
  HYPERCALL 0
  mov $0xe019, %ebx
  xor %ecx, %ecx
  mov $${failsafe === '0' ? 0 : 0xe019}, %edx
  mov $${failsafe}, %esi
  HYPERCALL 4
  mov $0xe021, %ebx
  mov $kstack_top, %ecx
  HYPERCALL 3
  mov $0xe021, %ax
  mov %ax, %fs
`;

const DATA = `
fail:
  PRINT s_fail, 5
  POWEROFF
.data
traps:
  .byte 13, 0
  .word 0xe019
  .long gp_handler
  .long 0, 0
.skip 4096
kstack_top:
s_ok: .ascii "ok\\n"
s_fail: .ascii "FAIL\\n"
`;

/** An IRET frame to ring 3 whose CS names no descriptor (the guest has no GDT of its own). */
const BAD_RING3_IRET = `
  push $0xe033
  push $0x1234
  push $0x202
  push $0x0803
  push $0x5678
  mov $0x99, %eax
  jmp hypercall_page+23*32
`;

describe.skipIf(!toolchain)('HYPERVISOR_iret as Xen answers it', () => {
  it('bounces an IRET Xen could not complete to the failsafe callback with DS, ES, FS, GS below the frame', () => {
    const guest = bootGuest(assembleGuest(`${SETUP('failsafe')}${BAD_RING3_IRET}
failsafe:
  /* ring 3 target: the frame is on the stack_switch stack: DS ES FS GS EIP CS EFLAGS ESP SS */
  cmp $kstack_top-36, %esp
  jne fail
  cmpl $0xe021, 8(%esp)
  jne fail
  cmpl $0x5678, 16(%esp)
  jne fail
  cmpl $0x0803, 20(%esp)
  jne fail
  testl $0x200, 24(%esp)
  jz fail
  cmpl $0x1234, 28(%esp)
  jne fail
  cmpl $0xe033, 32(%esp)
  jne fail
  cmp $0x99, %eax
  jne fail
  PRINT s_ok, 3
  POWEROFF
gp_handler:
  jmp fail
${DATA}`));
    expect(guest.run()).toMatchObject({ reason: 'shutdown', cause: 'power-off' });
    expect(guest.output()).toBe('ok\n');
    expect(guest.stats.named('failsafe callbacks')).toBe(1);
  });

  it('bounces a return to ring 0 (Xen\'s own) to the failsafe callback on the stack the frame names', () => {
    const guest = bootGuest(assembleGuest(`${SETUP('failsafe')}
  push $0xe021
  push $kstack_top-256
  push $0x2
  push $0xe018
  push $0x5678
  jmp hypercall_page+23*32
failsafe:
  /* an inner-ring target: no ESP/SS in the frame; IF clear, so the saved mask is in CS bits 16-23 */
  cmp $kstack_top-256-28, %esp
  jne fail
  cmpl $0x1e018, 20(%esp)
  jne fail
  testl $0x200, 24(%esp)
  jnz fail
  PRINT s_ok, 3
  POWEROFF
gp_handler:
  jmp fail
${DATA}`));
    expect(guest.run()).toMatchObject({ reason: 'shutdown', cause: 'power-off' });
    expect(guest.output()).toBe('ok\n');
  });

  it('crashes the domain when the IRET fails and no failsafe callback is registered', () => {
    const guest = bootGuest(assembleGuest(`${SETUP('0')}${BAD_RING3_IRET}
gp_handler:
  jmp fail
${DATA}`));
    const exit = guest.run();
    expect(exit.reason).toBe('internal-error');
    expect(exit).toMatchObject({ detail: expect.stringMatching(/domain crashed.*no failsafe callback/) });
    expect(guest.output()).toBe('');
  });

  it('turns a return to virtual-8086 mode into a #GP with error code 0 on the virtual-8086 frame', () => {
    const guest = bootGuest(assembleGuest(`${SETUP('failsafe')}
  push $0x0505
  push $0x0404
  push $0x0303
  push $0x0202
  push $0x0101
  push $0x2000
  push $0x20202
  push $0x0010
  push $0x0100
  mov $0x77, %eax
  jmp hypercall_page+23*32
gp_handler:
  /* the frame moved to the top of the kernel stack: 0, EIP, CS, EFLAGS, ESP, SS, ES, DS, FS, GS */
  cmp $kstack_top-40, %esp
  jne fail
  cmpl $0, (%esp)
  jne fail
  cmpl $0x0100, 4(%esp)
  jne fail
  cmpl $0x20202, 12(%esp)
  jne fail
  cmpl $0x0505, 36(%esp)
  jne fail
  cmp $0x77, %eax
  jne fail
  pushf
  testl $0x20000, (%esp)
  jnz fail
  PRINT s_ok, 3
  POWEROFF
failsafe:
  jmp fail
${DATA}`));
    expect(guest.run()).toMatchObject({ reason: 'shutdown', cause: 'power-off' });
    expect(guest.output()).toBe('ok\n');
  });
});
