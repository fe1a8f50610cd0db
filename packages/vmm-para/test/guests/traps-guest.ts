// A guest that takes a software interrupt, a page fault, a timer upcall and a trip to ring 3.
/** Makes the page at \`va\` (in the boot mapping) a user page: its mfn from mfn_list, P|RW|US|A. */
export const USER_PAGE = `
.macro USERPAGE va
  mov start_info_ptr, %eax
  mov 68(%eax), %eax          /* mfn_list */
  mov $\\va, %ecx
  sub $0xC0000000, %ecx
  shr $12, %ecx
  mov (%eax,%ecx,4), %ecx
  shl $12, %ecx
  or $0x27, %ecx
  mov $\\va, %ebx
  xor %edx, %edx
  mov $2, %esi
  HYPERCALL 14
  test %eax, %eax
  jnz fail
.endm
`;

/** Maps shared_info (start_info's frame) at 0xC0300000, where the guest reads vcpu_info and the time. */
export const MAP_SHARED_INFO = `
.macro MAP_SHARED_INFO
  mov start_info_ptr, %eax
  mov 36(%eax), %ecx
  or $3, %ecx
  mov $0xC0300000, %ebx
  xor %edx, %edx
  mov $2, %esi
  HYPERCALL 14
  test %eax, %eax
  jnz fail
.endm
`;

export const TRAPS_GUEST = `${USER_PAGE}${MAP_SHARED_INFO}
_start:
  mov %esi, start_info_ptr
  mov $traps, %ebx
  HYPERCALL 0
  mov $0xe019, %ebx
  mov $evt_handler, %ecx
  mov $0xe019, %edx
  mov $fail, %esi
  HYPERCALL 4
  MAP_SHARED_INFO
  /* a software interrupt the trap table allows from ring 1 */
  int $0x80
  PRINT s_back, 5
  /* a write to the page directory: read-only, so #PF with CR2 = pt_base */
  mov start_info_ptr, %eax
  mov 60(%eax), %eax
  movl $0, (%eax)
  PRINT s_after_pf, 9
  /* the timer: bind VIRQ_TIMER, unmask, deadline = now + 1 ms, block */
  mov $1, %ebx
  mov $bind, %ecx
  HYPERCALL 32
  test %eax, %eax
  jnz fail
  mov bind+8, %eax
  mov %eax, port
  mov $9, %ebx
  mov $port, %ecx
  HYPERCALL 32
  mov 0xC0300000+32+16, %ebx
  mov 0xC0300000+32+20, %ecx
  add $1000000, %ebx
  adc $0, %ecx
  HYPERCALL 15
  mov $1, %ebx
  HYPERCALL 29
  PRINT s_woke, 5
  /* ring 3: a user page, a kernel stack, iret to it */
  USERPAGE user_code
  USERPAGE user_stack
  mov $0xe021, %ebx
  mov $kstack_top, %ecx
  HYPERCALL 3
  push $0xe033
  push $user_stack+4096
  push $0x202
  push $0xe02b
  push $user_code
  jmp hypercall_page+23*32

fail:
  PRINT s_fail, 5
  POWEROFF

sys_handler:
  cmpl $0xe02b, 4(%esp)
  je from_user
  PRINT s_sys, 4
  jmp hypercall_page+23*32
from_user:
  /* the return to ring 3 nulled DS and ES (their DPL is 1): a kernel reloads them */
  mov $0xe021, %ax
  mov %ax, %ds
  mov %ax, %es
  PRINT s_user, 5
  POWEROFF

pf_handler:
  mov 0xC0300000+8, %eax     /* vcpu_info.arch.cr2 */
  mov start_info_ptr, %ecx
  cmp 60(%ecx), %eax
  jne fail
  PRINT s_pf, 3
  add $4, %esp
  addl $6, (%esp)
  jmp hypercall_page+23*32

gp_handler:
  cmpl $0x412, (%esp)
  jne fail
  PRINT s_gp, 3
  add $4, %esp
  addl $2, (%esp)
  jmp hypercall_page+23*32

evt_handler:
  PRINT s_tick, 5
  movb $0, 0xC0300000           /* upcall_pending */
  movl $0, 0xC0300000+4         /* pending_sel */
  movl $0, 0xC0300000+2048      /* evtchn_pending[0] */
  jmp hypercall_page+23*32

.balign 4096
user_code:
  int $0x82
  int $0x80
  jmp .
.balign 4096
user_stack: .skip 4096

.data
start_info_ptr: .long 0
port: .long 0
bind: .long 0, 0, 0
traps:
  .byte 0x80, 3
  .word 0xe019
  .long sys_handler
  .byte 14, 0
  .word 0xe019
  .long pf_handler
  .byte 13, 0
  .word 0xe019
  .long gp_handler
  .long 0, 0
.skip 4096
kstack_top:
s_back: .ascii "back\\n"
s_after_pf: .ascii "after-pf\\n"
s_sys: .ascii "sys\\n"
s_user: .ascii "user\\n"
s_pf: .ascii "pf\\n"
s_gp: .ascii "gp\\n"
s_tick: .ascii "tick\\n"
s_woke: .ascii "woke\\n"
s_fail: .ascii "FAIL\\n"
`;

