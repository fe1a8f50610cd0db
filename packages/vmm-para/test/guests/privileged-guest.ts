// A ring-1 kernel that tries what only the hypervisor may do, each attempt followed by its resume
// address: the #GP handler records the error code and continues at the next one.
export const PRIVILEGED_GUEST = `
_start:
  mov $traps, %ebx
  HYPERCALL 0
  movl $1, 0xFC000000
r1: lgdt gdtr
r2: int $0x81
r3: cli
r4: in $0x60, %al
r5: mov %cr3, %eax
r6: hlt
r7: ljmp $0xe008, $r8
r8: mov $0xe010, %ax
  mov %ax, %ds
r9: mov $0xe019, %ax
  mov %ax, %ss
r10: movl 0xFFFFF000, %eax
r11: sysenter
r12: mov $0x174, %ecx
  wrmsr
r13: POWEROFF

gp_handler:
  mov (%esp), %eax
  mov idx, %ecx
  mov %eax, codes(,%ecx,4)
  mov resume(,%ecx,4), %eax
  incl idx
  add $4, %esp
  mov %eax, (%esp)
  jmp hypercall_page+23*32

.data
idx: .long 0
codes: .skip 64
resume: .long r1, r2, r3, r4, r5, r6, r7, r8, r9, r10, r11, r12, r13
gdtr: .word 0xffff
  .long 0
traps:
  .byte 13, 0
  .word 0xe019
  .long gp_handler
  .byte 12, 0
  .word 0xe019
  .long gp_handler
  .long 0, 0
`;
