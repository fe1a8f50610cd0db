/* The sensitive-instruction guest: probes (probes-user.S, in the user pages so they run at CPL 0
   and at CPL 3 alike), the runner that starts them at either privilege and catches what they
   raise (runner.S, kernel.c), and the descriptors they look at. */
#ifndef RV_SENSITIVE_H
#define RV_SENSITIVE_H
#include "../common/io.h"

/* Descriptors beyond common/gdt.h's (GDT entries 6-15) and in the LDT. */
#define TSS2_SEL 0x30       /* a second, available 32-bit TSS (LTR target) */
#define LDT_SEL 0x38        /* the LDT, DPL 0 */
#define GATE3_SEL 0x40      /* 32-bit call gate, DPL 3, one parameter, to KERNEL_CS:gate_target */
#define CONFORMING_SEL 0x48 /* conforming readable code, DPL 0 */
#define DATA1_SEL 0x50      /* data, DPL 1 */
#define XONLY_SEL 0x58      /* execute-only code, DPL 3 */
#define ABSENT_SEL 0x60     /* data, DPL 3, not present */
#define EXPDOWN_SEL 0x68    /* expand-down data, DPL 3, limit 0xfff (valid offsets 0x1000-0xffffffff) */
#define GATE0_SEL 0x70      /* 32-bit call gate, DPL 0, to KERNEL_CS:gate_target */
#define LDT_DATA_SEL 0x0f   /* LDT entry 1: data, DPL 3 (TI = 1, RPL 3) */

/* Software vectors: INT n checks the gate's DPL against CPL, then its P bit. */
#define VEC_TRAP3 0x30   /* trap gate, DPL 3 */
#define VEC_INTR0 0x31   /* interrupt gate, DPL 0 */
#define VEC_ABSENT 0x32  /* not present, DPL 3 */
#define VEC_INTR3 0x33   /* interrupt gate, DPL 3 */

/* A probe: argument in ESI, results in EAX, EDX and probe_out; it may clobber EBX-EDI and the
   flags, and it keeps ESP balanced. Ring 3 runs it from user_trampoline. */
typedef void probe_fn(void);

/* What a probe left behind: its registers, or the exception it raised and the frame the CPU pushed. */
struct outcome {
  u32 faulted, eax, edx;
  u32 vector, error, cs, eip_offset, eflags, cr2;
  u32 from_user, ss, esp_offset;   /* from_user: SS:ESP were pushed (fault at CPL 3) */
  u32 frame_below;                 /* bytes from the interrupted stack top down to the saved EIP */
};

extern u32 probe_out[8];
extern u32 saved_cr3;
extern volatile u32 tick_flag;
extern u8 user_stack_top[];
extern void user_trampoline(void);
extern void gate_target(void);
extern u32 gate_out[5];

/* Runs `fn` with ESI = arg at CPL 0 (eflags = 0) or at CPL 3 with that EFLAGS image and the data
   segments set to `user_ds`; returns 1 when it raised an exception (described in `last`). */
u32 run_probe(probe_fn *fn, u32 eflags, u32 arg, u32 user_ds);
/* Abandons the probe (from an exception or the end-of-probe system call) and returns `faulted`
   from run_probe with the kernel's registers and EFLAGS = 0x2. */
__attribute__((noreturn)) void resume_kernel(u32 faulted);
extern u32 probe_entry_esp; /* ESP at a CPL 0 probe's first instruction */

/* Probes (probes-user.S). */
probe_fn p_sgdt, p_sidt, p_sldt, p_str, p_smsw, p_pushf, p_popf, p_iret_flags, p_lar_lsl_verr_verw,
    p_sregs, p_push_sreg, p_load_ds, p_load_ss, p_pop_ds, p_pop_ss, p_far_jmp_kernel, p_far_call_conforming, p_call_gate,
    p_jmp_gate, p_far_ret_kernel, p_int, p_int3, p_into, p_iret_same, p_iret_kernel, p_read_ds_es,
    p_mov_from_cr0, p_mov_from_cr2, p_mov_from_cr3, p_mov_from_cr4, p_mov_to_cr3, p_mov_from_dr7,
    p_mov_to_dr7, p_lgdt, p_lidt, p_lldt, p_ltr, p_cli, p_sti, p_hlt, p_in, p_out, p_invlpg, p_wbinvd,
    p_rdmsr, p_wrmsr, p_rdtsc, p_clts, p_lmsw, p_cpuid, p_divide_error, p_ud2, p_read, p_write,
    p_wait_tick;

#endif
