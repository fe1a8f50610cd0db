# A para-virtual kernel with several vCPUs (Xen's x86-32 PV ABI, strategy para): vCPU 0 brings up
# every other vCPU the domain has (VCPUOP_is_up answers -ENOENT past the last) with
# VCPUOP_initialise and VCPUOP_up, each on its own stack with its number in EBX; each one counts
# itself in, sends vCPU 0 an IPI and then counts forever in its own word of `work`. vCPU 0 blocks
# until every IPI came, prints `pv-smp: N vCPUs up` and counts in work[0] forever too; with the
# command line `poweroff` it waits until 11 s of system time have passed (SCHEDOP_poll on a port
# nobody raises, with that timeout) and powers the domain off, the other vCPUs still counting.
        .set    VIRT_BASE, 0xC0000000
        .set    HC_update_va_mapping, 14
        .set    HC_console_io, 18
        .set    HC_vcpu_op, 24
        .set    HC_sched_op, 29
        .set    HC_event_channel_op, 32
        .set    HC_set_callbacks, 4
        .set    VCPUOP_initialise, 0
        .set    VCPUOP_up, 1
        .set    VCPUOP_is_up, 3
        .set    SCHEDOP_block, 1
        .set    EVTCHNOP_send, 4
        .set    EVTCHNOP_bind_ipi, 7
        .set    ENOENT, -2
        .set    FLAT_RING1_CS, 0xe019
        .set    FLAT_RING1_DS, 0xe021
        .set    SI_shared_info, 36
        .set    SI_pt_base, 60
        .set    SI_mfn_list, 68
        .set    SI_cmd_line, 80
        .set    SCHEDOP_shutdown, 2
        .set    SCHEDOP_poll, 3
        .set    EVTCHNOP_alloc_unbound, 6
        # Where shared_info is mapped (inside the boot mapping), and its fields.
        .set    SHARED, 0xC0300000
        .set    EVTCHN_PENDING, 2048
        .set    MAX_VCPUS, 8
        # vcpu_guest_context (x86-32): user_regs at 516 (ebx 0, eip 32, cs 36, esp 44, ss 48, es 52,
        # ds 56), kernel_ss/sp at 2708/2712, ctrlreg[3] at 2728, event and failsafe callbacks at 2780.
        .set    CTX_SIZE, 2800
        .set    CTX_EBX, 516
        .set    CTX_EIP, 548
        .set    CTX_CS, 552
        .set    CTX_ESP, 560
        .set    CTX_SS, 564
        .set    CTX_ES, 568
        .set    CTX_DS, 572
        .set    CTX_KERNEL_SS, 2708
        .set    CTX_KERNEL_SP, 2712
        .set    CTX_CR3, 2728
        .set    CTX_EVENT, 2780

        .include "xen-notes.inc"
        XEN_NOTES pvsmp

        .macro  HC nr, a=%ebx, b=%ecx, c=%edx
        mov     \a, %ebx
        mov     \b, %ecx
        mov     \c, %edx
        mov     $\nr, %eax
        int     $0x82
        .endm

        .text
        .globl  _start
_start:
        mov     %esi, start_info
        # Event callback (the IPIs), failsafe: stop.
        mov     $FLAT_RING1_CS, %ebx
        mov     $event, %ecx
        mov     $FLAT_RING1_CS, %edx
        mov     $halt, %esi
        mov     $HC_set_callbacks, %eax
        int     $0x82
        # shared_info at SHARED: update_va_mapping(va, pte lo, pte hi, UVMF_INVLPG).
        mov     start_info, %eax
        mov     SI_shared_info(%eax), %ecx
        or      $3, %ecx
        mov     $2, %esi
        HC      HC_update_va_mapping, $SHARED, %ecx, $0
        test    %eax, %eax
        jnz     halt
        # vCPU 0's IPI port.
        HC      HC_event_channel_op, $EVTCHNOP_bind_ipi, $ipi
        test    %eax, %eax
        jnz     halt
        # The context every other vCPU starts from: flat ring-1 segments, this page directory.
        movl    $ap_entry, ctx + CTX_EIP
        movl    $FLAT_RING1_CS, ctx + CTX_CS
        movl    $FLAT_RING1_DS, ctx + CTX_SS
        movl    $FLAT_RING1_DS, ctx + CTX_ES
        movl    $FLAT_RING1_DS, ctx + CTX_DS
        movl    $FLAT_RING1_DS, ctx + CTX_KERNEL_SS
        movl    $FLAT_RING1_CS, ctx + CTX_EVENT
        movl    $halt, ctx + CTX_EVENT + 4
        movl    $FLAT_RING1_CS, ctx + CTX_EVENT + 8
        movl    $halt, ctx + CTX_EVENT + 12
        # CR3: the page directory's machine frame, mfn_list[(pt_base - VIRT_BASE) >> 12], << 12.
        mov     start_info, %eax
        mov     SI_pt_base(%eax), %ecx
        sub     $VIRT_BASE, %ecx
        shr     $12, %ecx
        mov     SI_mfn_list(%eax), %edx
        mov     (%edx,%ecx,4), %ecx
        shl     $12, %ecx
        mov     %ecx, ctx + CTX_CR3
        # Bring up vCPU 1, 2, ... until the domain has no more.
        movl    $1, vcpus
next_vcpu:
        mov     vcpus, %edi
        cmp     $MAX_VCPUS, %edi
        je      all_up
        HC      HC_vcpu_op, $VCPUOP_is_up, %edi, $0
        cmp     $ENOENT, %eax
        je      all_up
        mov     %edi, ctx + CTX_EBX
        mov     %edi, %eax
        inc     %eax
        shl     $12, %eax
        add     $ap_stacks, %eax
        mov     %eax, ctx + CTX_ESP
        mov     %eax, ctx + CTX_KERNEL_SP
        HC      HC_vcpu_op, $VCPUOP_initialise, %edi, $ctx
        test    %eax, %eax
        jnz     halt
        HC      HC_vcpu_op, $VCPUOP_up, %edi, $0
        test    %eax, %eax
        jnz     halt
        incl    vcpus
        jmp     next_vcpu
all_up:
        # Wait (events unmasked by SCHEDOP_block) until every other vCPU has counted itself in.
        mov     vcpus, %eax
        dec     %eax
        cmp     %eax, alive
        je      report
        HC      HC_sched_op, $SCHEDOP_block, $0
        jmp     all_up
report:
        mov     vcpus, %eax
        add     $'0', %al
        mov     %al, count_digit
        HC      HC_console_io, $0, $(up_end - up_line), $up_line
        mov     start_info, %eax
        cmpb    $'p', SI_cmd_line(%eax)
        jne     1f
        HC      HC_event_channel_op, $EVTCHNOP_alloc_unbound, $unbound
        test    %eax, %eax
        jnz     halt
        HC      HC_sched_op, $SCHEDOP_poll, $poll
        # sched_op(shutdown, {reason poweroff}).
        HC      HC_sched_op, $SCHEDOP_shutdown, $shutdown_reason
        jmp     halt
1:      xor     %ebx, %ebx
        jmp     count

# Another vCPU starts here with its number in EBX: in, an IPI to vCPU 0, then its own counting.
ap_entry:
        lock incl alive
        push    %ebx
        HC      HC_event_channel_op, $EVTCHNOP_send, $ipi + 4
        pop     %ebx
count:
        incl    work(,%ebx,4)
        jmp     count

# vCPU 0's event callback: clear its IPI port and the upcall, unmask, return.
event:
        push    %eax
        mov     ipi + 4, %eax
        lock btr %eax, SHARED + EVTCHN_PENDING
        movl    $0, SHARED + 4
        movb    $0, SHARED
        movb    $0, SHARED + 1
        pop     %eax
        iret

halt:
        ud2

        .data
        # A page of its own: the counting writes must not land on a page of code (each would undo its translations).
        .balign 4096
start_info:     .long 0
vcpus:          .long 0
shutdown_reason: .long 0
# EVTCHNOP_alloc_unbound {u16 dom DOMID_SELF; u16 remote_dom; u32 port (out)}, and
# sched_poll {ports: that port; nr_ports 1; u64 timeout 11e9 ns}.
unbound:        .short 0x7ff0, 0
                .long 0
poll:           .long unbound + 4, 1, 0x8fa6ae00, 2
alive:          .long 0
# EVTCHNOP_bind_ipi {u32 vcpu; u32 port (out)}: vCPU 0's.
ipi:            .long 0, 0
work:           .fill MAX_VCPUS, 4, 0
up_line:        .ascii "pv-smp: "
count_digit:    .ascii "0 vCPUs up\n"
up_end:
        .balign 16
ctx:            .fill CTX_SIZE, 1, 0

        .bss
        .balign 4096
ap_stacks:      .skip 4096 * MAX_VCPUS
        .balign 4096
        .globl  hypercall_page
hypercall_page: .skip 4096
