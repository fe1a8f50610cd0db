/* Memory and segment accesses that may fault: each faulting instruction has a label, so the
   exception handler (escape.c) can count the fault and resume at access_fixup, which returns
   ACCESS_FAULTED in EAX. */
	.text
	.globl read32, write32, read_fs32, load_fs, access_fixup
	.globl read32_insn, write32_insn, read_fs32_insn, load_fs_insn

/* u32 read32(u32 linear) */
read32:
	mov 4(%esp), %ecx
read32_insn:
	mov (%ecx), %eax
	ret
/* u32 write32(u32 linear, u32 value): returns value, or ACCESS_FAULTED */
write32:
	mov 4(%esp), %ecx
	mov 8(%esp), %eax
write32_insn:
	mov %eax, (%ecx)
	ret
/* u32 read_fs32(u32 offset): a read through FS, so the segment's base, limit and type apply */
read_fs32:
	mov 4(%esp), %ecx
read_fs32_insn:
	mov %fs:(%ecx), %eax
	ret
/* u32 load_fs(u32 selector): returns the selector, or ACCESS_FAULTED */
load_fs:
	mov 4(%esp), %eax
load_fs_insn:
	mov %ax, %fs
	ret
access_fixup:
	mov $0xfa17fa17, %eax
	ret
