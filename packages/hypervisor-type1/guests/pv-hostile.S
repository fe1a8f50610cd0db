# A hostile para-virtual kernel for the isolation test (Xen's x86-32 PV ABI, strategy para): every
# hypercall it makes names something that is not its own — machine frames of other domains, frames
# past its extent and past the pool, frame numbers up to 2^32-1, the hypervisor's frames, pointers
# into the hypervisor's region or nowhere, foreign domains' grants and ports — and checks that the
# answer is Xen's error code. The command line (hex words, from the test, which knows where the
# other domains are) gives a range of frame numbers to sweep (first, count: the whole pool in the
# domain's numbering), each tried in three calls, then frame numbers to try in every call that
# takes one; the kernel adds fixed ones. It prints one line per wrong answer and then
# `pvhostile: swept N, frames N, checks N, failures N` (hex), and ends with the PV
# analogue of a triple fault: an exception whose bounce frame cannot be written (the stack points
# into the hypervisor's region), which crashes the domain. With the command line `sleep` it only
# blocks with a timer 146 years away (see `sleeper`); with `watchdog` it arms a 1 s domain watchdog
# first and never feeds it.
        .set    VIRT_BASE, 0xC0000000
        .set    HV_VIRT, 0xFC000000
        # Hypercall numbers (xen.h).
        .set    HC_set_trap_table, 0
        .set    HC_mmu_update, 1
        .set    HC_set_gdt, 2
        .set    HC_update_descriptor, 10
        .set    HC_memory_op, 12
        .set    HC_multicall, 13
        .set    HC_update_va_mapping, 14
        .set    HC_console_io, 18
        .set    HC_grant_table_op, 20
        .set    HC_vcpu_op, 24
        .set    HC_mmuext_op, 26
        .set    HC_sched_op, 29
        .set    HC_event_channel_op, 32
        # Error codes and grant statuses.
        .set    EPERM, -1
        .set    ENOENT, -2
        .set    ESRCH, -3
        .set    EFAULT, -14
        .set    EINVAL, -22
        .set    GNTST_bad_domain, -2
        .set    GNTST_bad_gntref, -3
        .set    GNTST_bad_handle, -4
        .set    GNTST_permission_denied, -8
        .set    DOMID_SELF, 0x7ff0
        # A domain id nobody gave this domain (the hypervisor's other domains are 1, 2, ...).
        .set    FOREIGN_DOM, 2
        # start_info fields.
        .set    SI_nr_pages, 32
        .set    SI_shared_info, 36
        .set    SI_console_evtchn, 56
        .set    SI_pt_base, 60
        .set    SI_mfn_list, 68
        .set    SI_cmd_line, 80
        # A ring-1 flat data descriptor (DPL 1): valid, so only the frame it goes to is wrong.
        .set    DESC_LO, 0x0000ffff
        .set    DESC_HI, 0x00cfb300

        .set    MAX_FRAMES, 64
        .set    FIXED_FRAMES, 7
        # max_nr_grant_frames
        .set    GRANT_FRAMES, 4

        .include "xen-notes.inc"
        XEN_NOTES pvhostile

        # Arguments in EBX, ECX, EDX, ESI, EDI; the result in EAX.
        .macro  HC nr, b=$0, c=$0, d=$0, s=$0, di=$0
        mov     \b, %ebx
        mov     \c, %ecx
        mov     \d, %edx
        mov     \s, %esi
        mov     \di, %edi
        mov     $\nr, %eax
        int     $0x82
        .endm

        # EAX must be `want`; otherwise a line naming the check, what came back and cur_mfn.
        .macro  EXPECT want, name
        .pushsection .rodata
name\@: .asciz  "\name"
        .popsection
        push    $name\@
        push    \want
        call    expect
        add     $8, %esp
        .endm

        # One mmu_update request {u64 ptr; u64 val} at `req`, count 1, DOMID_SELF unless told.
        .macro  MMU_UPDATE ptr_lo, ptr_hi, val, dom=$DOMID_SELF
        mov     \ptr_lo, %eax
        mov     %eax, req
        mov     \ptr_hi, %eax
        mov     %eax, req+4
        mov     \val, %eax
        mov     %eax, req+8
        movl    $0, req+12
        HC      HC_mmu_update, $req, $1, $0, \dom
        .endm

        # The machine address of frame `reg` as a 64-bit pointer (frame << 12) in maddr_lo, maddr_hi.
        .macro  MADDR reg
        mov     \reg, %eax
        shl     $12, %eax
        mov     %eax, maddr_lo
        mov     \reg, %eax
        shr     $20, %eax
        mov     %eax, maddr_hi
        .endm

        # One mmuext_op {cmd, arg1, arg2} at `req`.
        .macro  MMUEXT cmd, arg1
        movl    \cmd, req
        mov     \arg1, %eax
        mov     %eax, req+4
        movl    $0, req+8
        HC      HC_mmuext_op, $req, $1, $0, $DOMID_SELF
        .endm

        .text
        .globl  _start
_start:
        mov     %esi, start_info
        mov     $stack_top, %esp
        cmpb    $'s', SI_cmd_line(%esi)
        je      sleeper
        cmpb    $'w', SI_cmd_line(%esi)
        je      watchdog
        mov     $banner, %eax
        call    puts
        # The marker first: the write sets the entry's dirty bit, which must be in the value kept.
        movl    $0x5a5a5a5a, scratch
        call    find_scratch_pte
        call    read_frames

        # --- Each frame number, in every call that takes one. ---
        xor     %ebp, %ebp
frame_loop:
        cmp     nframes, %ebp
        jae     frames_done
        mov     frames(,%ebp,4), %eax
        mov     %eax, cur_mfn
        call    check_not_own
        call    foreign_frame_checks
        inc     %ebp
        jmp     frame_loop
frames_done:
        movl    $0, cur_mfn
        mov     scratch, %eax
        EXPECT  $0x5a5a5a5a, "scratch page still mapped to its own frame"
        mov     scratch_pte_virt, %eax
        mov     (%eax), %eax
        EXPECT  scratch_pte_before, "scratch L1 entry unchanged"

        # --- Every frame number of the sweep that is not its own. ---
        call    sweep

        # --- The hypervisor's frames the domain may map (shared_info, grant table) but never type. ---
        mov     start_info, %eax
        mov     SI_shared_info(%eax), %eax
        shr     $12, %eax
        mov     %eax, cur_mfn
        call    typed_frame_checks
        # GNTTABOP_setup_table {dom, nr_frames, status, frame_list}: one frame for itself.
        movw    $DOMID_SELF, req
        movl    $1, req+4
        movl    $gnt_frame, req+12
        HC      HC_grant_table_op, $2, $req, $1
        EXPECT  $0, "setup_table of its own grant table"
        movswl  req+8, %eax
        EXPECT  $0, "setup_table status"
        mov     gnt_frame, %eax
        mov     %eax, cur_mfn
        call    typed_frame_checks
        movl    $0, cur_mfn

        # --- Page tables whose entries point at a foreign frame. ---
        call    page_table_checks

        # --- Batches: foreign domains, pointers outside the domain, huge counts. ---
        MMU_UPDATE scratch_pte_maddr, $0, scratch_pte_before, $FOREIGN_DOM
        EXPECT  $EINVAL, "mmu_update with a foreign domain"
        MMU_UPDATE scratch_pte_maddr, $0, scratch_pte_before, $0
        EXPECT  $EINVAL, "mmu_update with domain 0"
        HC      HC_mmu_update, $HV_VIRT, $1, $0, $DOMID_SELF
        EXPECT  $EFAULT, "mmu_update list in the hypervisor region"
        HC      HC_mmu_update, $req, $0x0fffffff, $0, $DOMID_SELF
        EXPECT  $EFAULT, "mmu_update list running into the hypervisor region"
        HC      HC_mmu_update, $0x10000000, $1, $0, $DOMID_SELF
        EXPECT  $EFAULT, "mmu_update list unmapped"
        HC      HC_mmuext_op, $HV_VIRT, $1, $0, $DOMID_SELF
        EXPECT  $EFAULT, "mmuext_op list in the hypervisor region"
        HC      HC_update_va_mapping, $HV_VIRT, scratch_pte_before, $0, $2
        EXPECT  $EINVAL, "update_va_mapping of the hypervisor region"
        HC      HC_update_va_mapping, $0x10000000, scratch_pte_before, $0, $2
        EXPECT  $EINVAL, "update_va_mapping without a page table"

        # --- Descriptor tables. ---
        HC      HC_set_gdt, $frames, $0xffffffff
        EXPECT  $EINVAL, "set_gdt of 2^32-1 entries"
        HC      HC_set_gdt, $HV_VIRT, $512
        EXPECT  $EFAULT, "set_gdt frame list in the hypervisor region"
        HC      HC_update_descriptor, scratch_pte_maddr, $1, $DESC_LO, $DESC_HI
        EXPECT  $EINVAL, "update_descriptor above 4 GiB"

        # --- Grants: map another domain's, map a bogus one of domain 0, unmap what was never mapped. ---
        # map_grant_ref {u64 host_addr; u32 flags; u32 ref; u16 dom; s16 status; u32 handle; u64 dev_bus_addr}
        .irp    dom, 2, 7, 0x7fef
        call    clear_req
        movl    $scratch, req
        movl    $1, req+8
        movl    $0, req+12
        movw    $\dom, req+16
        HC      HC_grant_table_op, $0, $req, $1
        EXPECT  $0, "map_grant_ref of a foreign domain's grant"
        movswl  req+18, %eax
        EXPECT  $GNTST_bad_domain, "map_grant_ref status for domain \dom"
        .endr
        call    clear_req
        movl    $scratch, req
        movl    $1, req+8
        movl    $0xffffffff, req+12
        movw    $0, req+16
        HC      HC_grant_table_op, $0, $req, $1
        movswl  req+18, %eax
        EXPECT  $GNTST_bad_gntref, "map_grant_ref of a reference domain 0 never gave"
        call    clear_req
        movl    $0x1234, req+16
        HC      HC_grant_table_op, $1, $req, $1
        movswl  req+20, %eax
        EXPECT  $GNTST_bad_handle, "unmap_grant_ref of a handle never given"
        call    clear_req
        movw    $FOREIGN_DOM, req
        movl    $1, req+4
        movl    $gnt_frame, req+12
        HC      HC_grant_table_op, $2, $req, $1
        movswl  req+8, %eax
        EXPECT  $GNTST_permission_denied, "setup_table of a foreign domain's table"
        HC      HC_grant_table_op, $0, $HV_VIRT, $1
        EXPECT  $EFAULT, "grant_table_op in the hypervisor region"
        HC      HC_grant_table_op, $0, $req, $513
        EXPECT  $EINVAL, "grant_table_op of 513 operations"

        # --- memory_op. ---
        movw    $FOREIGN_DOM, req
        HC      HC_memory_op, $3, $req
        EXPECT  $EPERM, "current_reservation of a foreign domain"
        HC      HC_memory_op, $4, $req
        EXPECT  $EPERM, "maximum_reservation of a foreign domain"
        HC      HC_memory_op, $3, $HV_VIRT
        EXPECT  $EFAULT, "current_reservation argument in the hypervisor region"
        movl    $1, req
        movl    $HV_VIRT, req+4
        HC      HC_memory_op, $9, $req
        EXPECT  $EFAULT, "memory_map buffer in the hypervisor region"
        HC      HC_memory_op, $9, $0x10000000
        EXPECT  $EFAULT, "memory_map argument unmapped"

        # --- console_io and multicall pointing outside the domain. ---
        HC      HC_console_io, $0, $16, $HV_VIRT
        EXPECT  $EFAULT, "console_io write from the hypervisor region"
        HC      HC_console_io, $0, $32, $0xfffffff0
        EXPECT  $EFAULT, "console_io write wrapping past 4 GiB"
        HC      HC_console_io, $0, $16, $0x10000000
        EXPECT  $EFAULT, "console_io write from an unmapped page"
        HC      HC_console_io, $0, $0xffffffff, $banner
        EXPECT  $EFAULT, "console_io write of 2^32-1 bytes"
        HC      HC_multicall, $HV_VIRT, $1
        EXPECT  $EFAULT, "multicall list in the hypervisor region"
        HC      HC_multicall, $calls, $0x08000000
        EXPECT  $EFAULT, "multicall of 2^27 entries"
        # Three entries {op, result, args[6]}: console_io from the hypervisor region, a pin of a
        # frame past the domain, a nested multicall.
        mov     frames, %eax
        mov     %eax, pin_req+4
        HC      HC_multicall, $calls, $3
        EXPECT  $0, "multicall of hostile entries"
        mov     calls+4, %eax
        EXPECT  $EFAULT, "multicall entry: console_io from the hypervisor region"
        mov     calls+32+4, %eax
        EXPECT  $EINVAL, "multicall entry: pin of a foreign frame"
        mov     calls+64+4, %eax
        EXPECT  $EINVAL, "multicall entry: nested multicall"

        # --- Event channels: ports nobody bound, foreign domains, bad vCPUs, bad pointers. ---
        .irp    port, 0, 4095, 4096, 0x7fffffff, 0xffffffff
        movl    $\port, req
        HC      HC_event_channel_op, $4, $req
        EXPECT  $EINVAL, "evtchn send on port \port"
        HC      HC_event_channel_op, $3, $req
        EXPECT  $EINVAL, "evtchn close of port \port"
        .endr
        movl    $5000, req
        HC      HC_event_channel_op, $9, $req
        EXPECT  $EINVAL, "evtchn unmask of port 5000"
        # alloc_unbound {u16 dom, u16 remote_dom, u32 port}: a port in another domain.
        movw    $FOREIGN_DOM, req
        movw    $0, req+2
        HC      HC_event_channel_op, $6, $req
        EXPECT  $EPERM, "evtchn alloc_unbound in a foreign domain"
        # bind_interdomain {u16 remote_dom; u32 remote_port; u32 local_port}: another domain's port,
        # domain 0's console port, its own ports that are not left unbound for itself.
        .irp    dom, 2, 0x7fef
        movw    $\dom, req
        movl    $1, req+4
        HC      HC_event_channel_op, $0, $req
        EXPECT  $ESRCH, "evtchn bind_interdomain to domain \dom"
        .endr
        mov     start_info, %eax
        mov     SI_console_evtchn(%eax), %eax
        mov     %eax, req+4
        movw    $0, req
        HC      HC_event_channel_op, $0, $req
        EXPECT  $EINVAL, "evtchn bind_interdomain to domain 0's console port"
        .irp    port, 0, 4095, 0xffffffff
        movw    $DOMID_SELF, req
        movl    $\port, req+4
        HC      HC_event_channel_op, $0, $req
        EXPECT  $EINVAL, "evtchn bind_interdomain to its own port \port"
        .endr
        # A port of its own left for domain 2: binding it itself is refused; it can be closed.
        movw    $DOMID_SELF, req
        movw    $FOREIGN_DOM, req+2
        HC      HC_event_channel_op, $6, $req
        EXPECT  $0, "evtchn alloc_unbound for a foreign domain"
        mov     req+4, %eax
        mov     %eax, req+4+16
        movw    $DOMID_SELF, req+16
        HC      HC_event_channel_op, $0, $req+16
        EXPECT  $EINVAL, "evtchn bind_interdomain to its port left for domain 2"
        HC      HC_event_channel_op, $4, $req+4
        EXPECT  $0, "evtchn send on its port left for domain 2"
        HC      HC_event_channel_op, $3, $req+4
        EXPECT  $0, "evtchn close of its port left for domain 2"
        HC      HC_event_channel_op, $0, $HV_VIRT
        EXPECT  $EFAULT, "evtchn bind_interdomain argument in the hypervisor region"
        # bind_virq {u32 virq, u32 vcpu, u32 port}: VIRQ_TIMER on a vCPU the domain does not have.
        movl    $0, req
        movl    $1, req+4
        HC      HC_event_channel_op, $1, $req
        EXPECT  $ENOENT, "evtchn bind_virq on vCPU 1"
        HC      HC_event_channel_op, $4, $HV_VIRT
        EXPECT  $EFAULT, "evtchn argument in the hypervisor region"
        HC      HC_vcpu_op, $7, $1, $0
        EXPECT  $ENOENT, "vcpu_op on vCPU 1"

        # --- Still a working domain: its own calls succeed. ---
        MMUEXT  $6, $0
        EXPECT  $0, "TLB flush"
        HC      HC_update_va_mapping, $scratch, scratch_pte_before, $0, $2
        EXPECT  $0, "update_va_mapping of its own frame"

        # --- The summary, then the crash. ---
        mov     $summary0, %eax
        call    puts
        mov     swept, %eax
        call    put_hex
        mov     $summary1, %eax
        call    puts
        mov     nframes, %eax
        call    put_hex
        mov     $summary2, %eax
        call    puts
        mov     checks, %eax
        call    put_hex
        mov     $summary3, %eax
        call    puts
        mov     failures, %eax
        call    put_hex
        mov     $newline, %eax
        call    puts
        # A #BP handler, and a stack in the hypervisor's region: the bounce frame cannot be written.
        HC      HC_set_trap_table, $traps
        mov     $HV_VIRT + 0x800, %esp
        int3
        ud2

# With the command line `sleep`: no periodic timer, a single-shot one 2^62 ns (146 years) away,
# and blocked until then. The hypervisor must keep such a timer without waking for it.
sleeper:
        mov     $sleeping, %eax
        call    puts
        HC      HC_vcpu_op, $7, $0
        movl    $0, req
        movl    $0x40000000, req+4
        movl    $0, req+8
        HC      HC_vcpu_op, $8, $0, $req
1:      HC      HC_sched_op, $1
        jmp     1b

# With the command line `watchdog`: a domain watchdog of 1 s (SCHEDOP_watchdog, id 0: it must get
# id 1), never fed, then the sleeper's wait: the watchdog's expiry ends the domain (SHUTDOWN_watchdog).
watchdog:
        movl    $0, req
        movl    $1, req+4
        HC      HC_sched_op, $6, $req
        EXPECT  $1, "sched_op watchdog: the first timer"
        mov     $watchdog_armed, %eax
        call    puts
        jmp     sleeper

# Calls that take a machine frame number (cur_mfn, in EAX), each refused with -EINVAL.
foreign_frame_checks:
        push    %ebp
        mov     %eax, %ebp
        cmp     $0x100000, %ebp
        jae     1f
        # A 32-bit L1 entry holds 20 bits of frame number: only numbers below 2^20 can be named there.
        mov     %ebp, %eax
        shl     $12, %eax
        or      $1, %eax
        mov     %eax, pte_ro
        or      $3, %eax
        mov     %eax, pte_rw
        MMU_UPDATE scratch_pte_maddr, $0, pte_ro
        EXPECT  $EINVAL, "mmu_update: read-only entry to the frame"
        MMU_UPDATE scratch_pte_maddr, $0, pte_rw
        EXPECT  $EINVAL, "mmu_update: writable entry to the frame"
        HC      HC_update_va_mapping, $scratch, pte_ro, $0, $2
        EXPECT  $EINVAL, "update_va_mapping: read-only"
        HC      HC_update_va_mapping, $scratch, pte_rw, $0, $1
        EXPECT  $EINVAL, "update_va_mapping: writable"
1:      MADDR   %ebp
        MMU_UPDATE maddr_lo, maddr_hi, $0
        EXPECT  $EINVAL, "mmu_update: the frame as the page table written"
        mov     maddr_lo, %eax
        or      $1, %eax
        MMU_UPDATE %eax, maddr_hi, $0
        EXPECT  $EINVAL, "mmu_update: MMU_MACHPHYS_UPDATE of the frame"
        mov     %ebp, %eax
        call    typed_frame_checks
        pop     %ebp
        ret

# Calls that would give a frame (cur_mfn, in EAX) a type: pins, base pointer, GDT, descriptors.
typed_frame_checks:
        push    %ebp
        mov     %eax, %ebp
        MMUEXT  $0, %ebp
        EXPECT  $EINVAL, "mmuext_op: pin as L1"
        MMUEXT  $1, %ebp
        EXPECT  $EINVAL, "mmuext_op: pin as L2"
        MMUEXT  $4, %ebp
        EXPECT  $EINVAL, "mmuext_op: unpin"
        MMUEXT  $5, %ebp
        EXPECT  $EINVAL, "mmuext_op: new_baseptr"
        mov     %ebp, gdt_list
        HC      HC_set_gdt, $gdt_list, $512
        EXPECT  $EINVAL, "set_gdt"
        mov     %ebp, %eax
        shl     $12, %eax
        mov     %ebp, %ecx
        shr     $20, %ecx
        HC      HC_update_descriptor, %eax, %ecx, $DESC_LO, $DESC_HI
        EXPECT  $EINVAL, "update_descriptor"
        pop     %ebp
        ret

# An L1 table of its own that maps the first foreign frame cannot be pinned (nor become CR3's
# directory's table); the same page without that entry can.
page_table_checks:
        mov     frames, %eax
        shl     $12, %eax
        or      $1, %eax
        mov     %eax, bad_l1
        mov     $bad_l1, %eax
        call    make_read_only
        mov     %eax, %ebx
        mov     %ebx, bad_l1_mfn
        MMUEXT  $0, %ebx
        EXPECT  $EINVAL, "pin as L1 of a table mapping a foreign frame"
        mov     $good_l1, %eax
        call    make_read_only
        mov     %eax, good_l1_mfn
        MMUEXT  $0, good_l1_mfn
        EXPECT  $0, "pin as L1 of an empty table"
        MMUEXT  $4, good_l1_mfn
        EXPECT  $0, "unpin of that table"
        # A directory entry pointing at the bad table, in the live directory: refused.
        mov     start_info, %eax
        mov     SI_pt_base(%eax), %eax
        call    machine_of
        add     $0x200 * 4, %eax
        mov     %eax, l2_slot_maddr
        mov     bad_l1_mfn, %eax
        shl     $12, %eax
        or      $0x67, %eax
        mov     %eax, pde
        MMU_UPDATE l2_slot_maddr, $0, pde
        EXPECT  $EINVAL, "directory entry to a table mapping a foreign frame"
        # A directory entry in the hypervisor's slots (1008 and up), to a valid table.
        mov     l2_slot_maddr, %eax
        add     $(1008 - 0x200) * 4, %eax
        mov     %eax, l2_slot_maddr
        mov     good_l1_mfn, %eax
        shl     $12, %eax
        or      $0x67, %eax
        mov     %eax, pde
        MMU_UPDATE l2_slot_maddr, $0, pde
        EXPECT  $EINVAL, "directory entry in the hypervisor's slots"
        ret

# EAX = a virtual address of this kernel: its page is made read-only; returns its frame number.
make_read_only:
        push    %ebp
        mov     %eax, %ebp
        call    machine_of
        shr     $12, %eax
        push    %eax
        shl     $12, %eax
        or      $1, %eax
        HC      HC_update_va_mapping, %ebp, %eax, $0, $2
        EXPECT  $0, "update_va_mapping read-only of its own page"
        pop     %eax
        pop     %ebp
        ret

# EAX = a virtual address of this kernel: returns its machine address (through mfn_list).
machine_of:
        push    %ecx
        push    %edx
        mov     %eax, %ecx
        sub     $VIRT_BASE, %eax
        shr     $12, %eax
        mov     start_info, %edx
        mov     SI_mfn_list(%edx), %edx
        mov     (%edx,%eax,4), %eax
        shl     $12, %eax
        and     $0xfff, %ecx
        or      %ecx, %eax
        pop     %edx
        pop     %ecx
        ret

# The L1 entry that maps `scratch`: its virtual address in the read-only table mapping, its
# machine address, and its value now.
find_scratch_pte:
        mov     start_info, %ebx
        mov     SI_pt_base(%ebx), %ebx
        mov     $scratch, %eax
        shr     $22, %eax
        mov     (%ebx,%eax,4), %eax
        and     $0xfffff000, %eax
        mov     $scratch, %ecx
        shr     $12, %ecx
        and     $0x3ff, %ecx
        lea     (%eax,%ecx,4), %eax
        mov     %eax, scratch_pte_maddr
        # The builder maps the L1s right after the directory, in order, from VIRT_BASE's slot.
        mov     $scratch, %eax
        sub     $VIRT_BASE, %eax
        shr     $22, %eax
        inc     %eax
        shl     $12, %eax
        add     %ebx, %eax
        lea     (%eax,%ecx,4), %eax
        mov     %eax, scratch_pte_virt
        mov     (%eax), %eax
        mov     %eax, scratch_pte_before
        ret

# The command line: the sweep's first number and count, then frame numbers (hex words); then the
# fixed numbers: the hypervisor's low frames, 2^20-1 (the largest an L1 entry holds), 2^20, 2^31
# and 2^32-1.
read_frames:
        mov     start_info, %esi
        add     $SI_cmd_line, %esi
        xor     %edi, %edi
        call    next_word
        jc      2f
        mov     %eax, sweep_lo
        call    next_word
        jc      2f
        mov     %eax, sweep_count
1:      cmp     $MAX_FRAMES - FIXED_FRAMES, %edi
        jae     2f
        call    next_word
        jc      2f
        mov     %eax, frames(,%edi,4)
        inc     %edi
        jmp     1b
2:      mov     $fixed_frames, %esi
        mov     $FIXED_FRAMES, %ecx
3:      lodsl
        mov     %eax, frames(,%edi,4)
        inc     %edi
        loop    3b
        mov     %edi, nframes
        ret

# The hex word at ESI (spaces skipped) in EAX, ESI after it; carry set at the end of the string.
next_word:
        lodsb
        cmp     $' ', %al
        je      next_word
        test    %al, %al
        jz      4f
        xor     %edx, %edx
1:      cmp     $'0', %al
        jb      3f
        cmp     $'9', %al
        jbe     2f
        or      $0x20, %al
        cmp     $'a', %al
        jb      3f
        cmp     $'f', %al
        ja      3f
        sub     $'a' - 10 - '0', %al
2:      sub     $'0', %al
        shl     $4, %edx
        movzbl  %al, %eax
        or      %eax, %edx
        lodsb
        jmp     1b
3:      dec     %esi
        mov     %edx, %eax
        clc
        ret
4:      dec     %esi
        stc
        ret

# The sweep: numbers from sweep_lo (wrapping at 2^32), sweep_count of them. The domain's own frames
# are one run in mfn_list (checked), skipped; every other number must be refused as a table to
# pin, as the table an mmu_update writes, and (below 2^20) as a writable mapping, except the
# hypervisor's frames a PV kernel maps writable: its shared_info and grant-table frames.
sweep:
        # The grant table's frames (all of them), and shared_info's: the mappable five.
        movw    $DOMID_SELF, req
        movl    $GRANT_FRAMES, req+4
        movl    $mappable + 4, req+12
        HC      HC_grant_table_op, $2, $req, $1
        EXPECT  $0, "setup_table of every grant frame"
        movswl  req+8, %eax
        EXPECT  $0, "setup_table of every grant frame: status"
        mov     start_info, %eax
        mov     SI_shared_info(%eax), %eax
        shr     $12, %eax
        mov     %eax, mappable
        mov     start_info, %ebx
        mov     SI_nr_pages(%ebx), %ecx
        mov     SI_mfn_list(%ebx), %ebx
        mov     (%ebx), %eax
        mov     %eax, own_lo
        xor     %edx, %edx
1:      mov     (%ebx,%edx,4), %eax
        sub     own_lo, %eax
        cmp     %edx, %eax
        je      2f
        EXPECT  %edx, "mfn_list is one run of frames"
2:      inc     %edx
        cmp     %ecx, %edx
        jb      1b
        mov     %ecx, own_count
        mov     sweep_lo, %ebp
        mov     sweep_count, %eax
        mov     %eax, sweep_left
3:      cmpl    $0, sweep_left
        je      5f
        mov     %ebp, %eax
        sub     own_lo, %eax
        cmp     own_count, %eax
        jb      4f
        mov     %ebp, cur_mfn
        incl    swept
        MMUEXT  $0, %ebp
        EXPECT  $EINVAL, "sweep: pin as L1"
        MADDR   %ebp
        MMU_UPDATE maddr_lo, maddr_hi, $0
        EXPECT  $EINVAL, "sweep: the frame as the page table written"
        cmp     $0x100000, %ebp
        jae     4f
        mov     %ebp, %eax
        shl     $12, %eax
        or      $3, %eax
        HC      HC_update_va_mapping, $scratch, %eax, $0, $2
        mov     $mappable, %edi
        mov     $1 + GRANT_FRAMES, %ecx
        mov     %eax, %edx
        mov     %ebp, %eax
        repne scasl
        mov     %edx, %eax
        je      6f
        EXPECT  $EINVAL, "sweep: writable mapping"
        jmp     4f
6:      EXPECT  $0, "sweep: writable mapping of shared_info or a grant frame"
4:      inc     %ebp
        decl    sweep_left
        jmp     3b
5:      movl    $0, cur_mfn
        HC      HC_update_va_mapping, $scratch, scratch_pte_before, $0, $2
        EXPECT  $0, "scratch mapped to its own frame again"
        ret

# A frame number in EAX that is the domain's own would make the test meaningless: say so.
check_not_own:
        mov     start_info, %ebx
        mov     SI_nr_pages(%ebx), %ecx
        mov     SI_mfn_list(%ebx), %ebx
1:      cmp     -4(%ebx,%ecx,4), %eax
        je      2f
        loop    1b
        ret
2:      push    %eax
        EXPECT  $-1, "frame number is the domain's own"
        pop     %eax
        ret

clear_req:
        push    %edi
        push    %ecx
        push    %eax
        mov     $req, %edi
        mov     $8, %ecx
        xor     %eax, %eax
        rep stosl
        pop     %eax
        pop     %ecx
        pop     %edi
        ret

# expect(want, name), the result in EAX: counts the check; a mismatch prints a line and counts a failure.
expect:
        pusha
        incl    checks
        cmp     36(%esp), %eax
        je      1f
        incl    failures
        mov     %eax, %ebx
        mov     $fail1, %eax
        call    puts
        mov     40(%esp), %eax
        call    puts
        mov     $fail2, %eax
        call    puts
        mov     %ebx, %eax
        call    put_hex
        mov     $fail3, %eax
        call    puts
        mov     36(%esp), %eax
        call    put_hex
        mov     $fail4, %eax
        call    puts
        mov     cur_mfn, %eax
        call    put_hex
        mov     $newline, %eax
        call    puts
1:      popa
        ret

# puts(EAX: NUL-terminated string) through console_io; every register kept.
puts:
        pusha
        mov     %eax, %edx
        xor     %ecx, %ecx
1:      cmpb    $0, (%edx,%ecx)
        je      2f
        inc     %ecx
        jmp     1b
2:      xor     %ebx, %ebx
        mov     $HC_console_io, %eax
        int     $0x82
        popa
        ret

# put_hex(EAX): eight hex digits.
put_hex:
        pusha
        mov     $hex_buf + 8, %edi
        mov     $8, %ecx
1:      dec     %edi
        mov     %eax, %edx
        and     $15, %edx
        movb    digits(%edx), %dl
        mov     %dl, (%edi)
        shr     $4, %eax
        loop    1b
        mov     $hex_buf, %eax
        call    puts
        popa
        ret

        .section .rodata
banner:   .asciz "pvhostile: naming what is not its own\n"
sleeping: .asciz "pvhostile: sleeping\n"
watchdog_armed: .asciz "pvhostile: watchdog armed\n"
summary0: .asciz "pvhostile: swept "
summary1: .asciz ", frames "
summary2: .asciz ", checks "
summary3: .asciz ", failures "
fail1:    .asciz "pvhostile: FAIL "
fail2:    .asciz ": got "
fail3:    .asciz ", want "
fail4:    .asciz ", frame "
newline:  .asciz "\n"
digits:   .ascii "0123456789abcdef"
        .balign 4
fixed_frames: .long 0, 1, 0xff, 0xfffff, 0x100000, 0x80000000, 0xffffffff
# trap_info {u8 vector, u8 flags, u16 cs, u32 address}: #BP at DPL 3, then the terminator.
traps:    .byte 3, 3
          .word 0xe019
          .long bp_handler
          .long 0, 0

        .data
        .balign 4
# Multicall entries {op, result, args[6]}.
calls:    .long HC_console_io, 0, 0, 16, HV_VIRT, 0, 0, 0
          .long HC_mmuext_op, 0, pin_req, 1, 0, DOMID_SELF, 0, 0
          .long HC_multicall, 0, calls, 1, 0, 0, 0, 0
pin_req:  .long 0, 0, 0
hex_buf:  .asciz "00000000"

        .bss
        .balign 4
start_info:         .long 0
checks:             .long 0
failures:           .long 0
cur_mfn:            .long 0
nframes:            .long 0
sweep_lo:           .long 0
sweep_count:        .long 0
sweep_left:         .long 0
swept:              .long 0
own_lo:             .long 0
own_count:          .long 0
mappable:           .skip (1 + GRANT_FRAMES) * 4
frames:             .skip MAX_FRAMES * 4
req:                .skip 32
gdt_list:           .long 0
gnt_frame:          .long 0
pte_ro:             .long 0
pte_rw:             .long 0
pde:                .long 0
maddr_lo:           .long 0
maddr_hi:           .long 0
scratch_pte_maddr:  .long 0
scratch_pte_virt:   .long 0
scratch_pte_before: .long 0
bad_l1_mfn:         .long 0
good_l1_mfn:        .long 0
l2_slot_maddr:      .long 0
        .balign 4096
scratch:  .skip 4096
bad_l1:   .skip 4096
good_l1:  .skip 4096
stack:    .skip 8192
stack_top:

        .text
bp_handler:
        ud2
        .balign 4096
        .globl  hypercall_page
hypercall_page:
        .skip   4096
