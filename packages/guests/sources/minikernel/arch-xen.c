/* The Xen PV operations: page tables through mmu_update/mmuext_op/update_va_mapping (page-table
   frames are read-only and pinned), traps through set_trap_table, kernel stacks through
   stack_switch, returns through the iret hypercall (traps.S), the timer as VIRQ_TIMER re-armed with
   set_timer_op, the console ring, xenstore (xenstore.c) for blkif (xen-blkfront.c) and the
   toolstack's shutdown requests (xen-control.c), sched_op for idle and power-off. */
#include "arch.h"
#include "xen.h"
#include "syscall.h"

#define TICK_NS 10000000ull /* 100 Hz, as the bare build's PIT */
#define FIXMAP_SHARED_INFO 0
#define M2P_SLOTS (2 * MAX_PAGES)

extern char _end[];
extern void trap_de(void), trap_db(void), trap_nmi(void), trap_bp(void), trap_of(void), trap_br(void),
    trap_ud(void), trap_nm(void), trap_df(void), trap_ts(void), trap_np(void), trap_ss(void),
    trap_gp(void), trap_pf(void), trap_mf(void), trap_ac(void), trap_syscall(void), trap_event(void),
    xen_failsafe(void);

const struct start_info *start;
struct shared_info *shared;
static const u32 *p2m;
static u32 nr_pages;
/* Machine frame -> pseudo-physical frame, an open-addressed table filled from the p2m list. */
static u32 m2p_mfn[M2P_SLOTS];
static u16 m2p_pfn[M2P_SLOTS];
static u32 timer_port, console_port;
static volatile u8 *console_ring;

static void check(int result, const char *what) {
  if (result < 0) panic(what, (u32)result);
}

u32 xen_mfn(u32 pfn) {
  if (pfn >= nr_pages) panic("pfn beyond the domain", pfn);
  return p2m[pfn];
}

u32 xen_pfn(u32 mfn) {
  for (u32 slot = (mfn * 2654435761u) % M2P_SLOTS;; slot = (slot + 1) % M2P_SLOTS) {
    if (m2p_mfn[slot] == mfn + 1) return m2p_pfn[slot];
    if (m2p_mfn[slot] == 0) panic("machine frame not ours", mfn);
  }
}

static void m2p_init(void) {
  for (u32 pfn = 0; pfn < nr_pages; pfn++) {
    u32 slot = (p2m[pfn] * 2654435761u) % M2P_SLOTS;
    while (m2p_mfn[slot]) slot = (slot + 1) % M2P_SLOTS;
    m2p_mfn[slot] = p2m[pfn] + 1;
    m2p_pfn[slot] = (u16)pfn;
  }
}

void xen_notify(u32 port) {
  u32 send = port;
  check(hypercall(HYPERVISOR_event_channel_op, EVTCHNOP_send, (u32)&send, 0, 0, 0), "evtchn send");
}

void xen_yield(void) { hypercall(HYPERVISOR_sched_op, SCHEDOP_yield, 0, 0, 0, 0); }

/* Lazy MMU mode: page-table updates wait here and go as one mmu_update (or one multicall with the
   TLB flush that ends a fork); any other page-table hypercall sends them first, keeping order. */
#define MMU_QUEUE 32
static struct mmu_update mmu_queue[MMU_QUEUE];
static u32 mmu_queued;
static int mmu_lazy;

static void mmu_flush(void) {
  if (!mmu_queued) return;
  u32 n = mmu_queued;
  mmu_queued = 0;
  check(hypercall(HYPERVISOR_mmu_update, (u32)mmu_queue, n, 0, DOMID_SELF, 0), "mmu_update");
}

static void mmuext(u32 cmd, u32 arg1) {
  mmu_flush();
  struct mmuext_op op = { cmd, arg1, 0 };
  check(hypercall(HYPERVISOR_mmuext_op, (u32)&op, 1, 0, DOMID_SELF, 0), "mmuext_op");
}

static void update_va_mapping(u32 address, u32 pte) {
  mmu_flush();
  check(hypercall(HYPERVISOR_update_va_mapping, address, pte, 0, UVMF_INVLPG, 0), "update_va_mapping");
}

static u32 xen_make_pte(u32 pfn, u32 flags) { return xen_mfn(pfn) << PAGE_SHIFT | flags; }
static u32 xen_pte_pfn(u32 pte) { return xen_pfn(pte >> PAGE_SHIFT); }

static void xen_set_pte(u32 *entry, u32 value) {
  u32 machine = xen_mfn(__pa(entry) >> PAGE_SHIFT) << PAGE_SHIFT | ((u32)entry & (PAGE_SIZE - 1));
  if (mmu_queued == MMU_QUEUE) mmu_flush();
  mmu_queue[mmu_queued++] = (struct mmu_update){ machine | MMU_NORMAL_PT_UPDATE, value };
  if (!mmu_lazy) mmu_flush();
}

static void xen_set_pde(u32 *entry, u32 value) {
  xen_set_pte(entry, value);
  mmu_flush();
}

static void xen_lazy_mmu(int on) {
  mmu_lazy = on;
  if (!on) mmu_flush();
}

static void xen_invlpg(u32 address) { mmuext(MMUEXT_INVLPG_LOCAL, address); }

static void xen_flush_tlb(void) {
  if (!mmu_queued) {
    mmuext(MMUEXT_TLB_FLUSH_LOCAL, 0);
    return;
  }
  struct mmuext_op flush = { MMUEXT_TLB_FLUSH_LOCAL, 0, 0 };
  struct multicall_entry calls[2] = {
    { HYPERVISOR_mmu_update, 0, { (u32)mmu_queue, mmu_queued, 0, DOMID_SELF, 0, 0 } },
    { HYPERVISOR_mmuext_op, 0, { (u32)&flush, 1, 0, DOMID_SELF, 0, 0 } },
  };
  mmu_queued = 0;
  check(hypercall(HYPERVISOR_multicall, (u32)calls, 2, 0, 0, 0), "multicall");
  check(calls[0].result, "multicall mmu_update");
  check(calls[1].result, "multicall mmuext_op");
}

static void xen_load_pgdir(u32 pfn) { mmuext(MMUEXT_NEW_BASEPTR, xen_mfn(pfn)); }

/* A page-table frame may not stay writable anywhere: remap the direct map's view read-only, pin. */
static void xen_pin_table(u32 pfn, int level) {
  update_va_mapping((u32)pfn_va(pfn), xen_make_pte(pfn, PTE_P));
  mmuext(level == 1 ? MMUEXT_PIN_L1_TABLE : MMUEXT_PIN_L2_TABLE, xen_mfn(pfn));
}

static void xen_unpin_table(u32 pfn) {
  mmuext(MMUEXT_UNPIN_TABLE, xen_mfn(pfn));
  update_va_mapping((u32)pfn_va(pfn), xen_make_pte(pfn, PTE_P | PTE_W));
}

static void xen_set_kernel_stack(u32 top) {
  mmu_flush();
  check(hypercall(HYPERVISOR_stack_switch, KERNEL_DS, top, 0, 0, 0), "stack_switch");
}

static u32 xen_fault_address(void) { return shared->vcpu[0].cr2; }

/* System time in ns from the vcpu_time_info the hypervisor keeps (pvclock). */
static u64 system_time(void) {
  volatile struct vcpu_time_info *t = &shared->vcpu[0].time;
  u32 version;
  u64 ns;
  do {
    version = t->version;
    __asm__ volatile("" : : : "memory");
    u32 lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    u64 delta = ((u64)hi << 32 | lo) - t->tsc_timestamp;
    if (t->tsc_shift >= 0) delta <<= t->tsc_shift;
    else delta >>= -t->tsc_shift;
    u32 mul = t->tsc_to_system_mul;
    ns = t->system_time + ((u64)(u32)delta * mul >> 32) + (delta >> 32) * mul;
    __asm__ volatile("" : : : "memory");
  } while ((version & 1) || version != t->version);
  return ns;
}

static void arm_timer(void) {
  u64 deadline = system_time() + TICK_NS;
  check(hypercall(HYPERVISOR_set_timer_op, (u32)deadline, (u32)(deadline >> 32), 0, 0, 0), "set_timer_op");
}

/* Pending, unmasked ports: clear each and act on it (the upcall and idle both come here). */
static void xen_events(void) {
  volatile struct vcpu_info *vcpu = &shared->vcpu[0];
  vcpu->upcall_pending = 0;
  u32 selectors = 0;
  __asm__ volatile("xchgl %0, %1" : "+r"(selectors), "+m"(vcpu->pending_sel) : : "memory");
  while (selectors) {
    u32 word = (u32)__builtin_ctz(selectors);
    selectors &= selectors - 1;
    u32 pending = shared->evtchn_pending[word] & ~shared->evtchn_mask[word];
    while (pending) {
      u32 bit = (u32)__builtin_ctz(pending);
      pending &= pending - 1;
      __asm__ volatile("lock andl %1, %0" : "+m"(shared->evtchn_pending[word]) : "r"(~(1u << bit)) : "memory");
      u32 port = word * 32 + bit;
      if (port == timer_port) {
        timer_tick();
        arm_timer();
      } else if (port == console_port) {
        console_wakeup();
      } else if (port == xs_port()) {
        control_poll();
      }
    }
  }
}

static void xen_interrupt(struct frame *f) {
  if (f->vector == VECTOR_EVENT) xen_events();
}

/* SCHEDOP_block unmasks events and returns once one is pending; the upcall may run on the way out.
   Events are masked again after, and whatever is still pending is handled here. */
static void xen_idle(void) {
  volatile struct vcpu_info *vcpu = &shared->vcpu[0];
  hypercall(HYPERVISOR_sched_op, SCHEDOP_block, 0, 0, 0, 0);
  vcpu->upcall_mask = 1;
  __asm__ volatile("" : : : "memory");
  if (vcpu->upcall_pending) xen_events();
}

/* The console ring (io/console.h): out[2048] at 1024, in[1024] at 0, indices after them. */
#define CONS_IN 0
#define CONS_OUT 1024
#define CONS_IN_CONS 3072
#define CONS_IN_PROD 3076
#define CONS_OUT_CONS 3080
#define CONS_OUT_PROD 3084
#define RING_U32(offset) (*(volatile u32 *)(console_ring + (offset)))

static void xen_console_write(const char *s, u32 n) {
  while (n) {
    u32 prod = RING_U32(CONS_OUT_PROD);
    u32 room = 2048 - (prod - RING_U32(CONS_OUT_CONS));
    if (room == 0) {
      xen_notify(console_port);
      xen_yield();
      continue;
    }
    u32 k = n < room ? n : room;
    for (u32 i = 0; i < k; i++) console_ring[CONS_OUT + ((prod + i) & 2047)] = (u8)s[i];
    __asm__ volatile("" : : : "memory");
    RING_U32(CONS_OUT_PROD) = prod + k;
    s += k;
    n -= k;
  }
  xen_notify(console_port);
}

static int xen_console_getc(void) {
  u32 cons = RING_U32(CONS_IN_CONS);
  if (cons == RING_U32(CONS_IN_PROD)) return -1; /* the back end's event wakes the reader */
  __asm__ volatile("" : : : "memory");
  int c = console_ring[CONS_IN + (cons & 1023)];
  RING_U32(CONS_IN_CONS) = cons + 1;
  xen_notify(console_port);
  return c;
}

__attribute__((noreturn)) static void xen_poweroff(int crash) {
  u32 reason = crash ? SHUTDOWN_crash : SHUTDOWN_poweroff;
  for (;;) hypercall(HYPERVISOR_sched_op, SCHEDOP_shutdown, (u32)&reason, 0, 0, 0);
}

void xen_failsafe_callback(void);
void xen_failsafe_callback(void) { panic("Xen failsafe callback", 0); }

/* A domain without I/O privileges has no ports (its devices are split drivers) and may not write
   CR4; CR0's only writable bit for a PV guest is TS, through fpu_taskswitch. A 32-bit Xen has a
   SYSENTER callback only with supervisor_mode_kernel, which vmm-para does not offer. */
static int xen_bench(u32 op, u32 count) {
  if (op != BENCH_CR0) return -1;
  for (u32 i = 0; i < count; i++) hypercall(HYPERVISOR_fpu_taskswitch, 1, 0, 0, 0, 0);
  hypercall(HYPERVISOR_fpu_taskswitch, 0, 0, 0, 0, 0);
  return 0;
}

static const struct arch_ops xen_ops = {
  .make_pte = xen_make_pte,
  .pte_pfn = xen_pte_pfn,
  .set_pte = xen_set_pte,
  .set_pde = xen_set_pde,
  .lazy_mmu = xen_lazy_mmu,
  .invlpg = xen_invlpg,
  .flush_tlb = xen_flush_tlb,
  .pin_table = xen_pin_table,
  .unpin_table = xen_unpin_table,
  .load_pgdir = xen_load_pgdir,
  .set_kernel_stack = xen_set_kernel_stack,
  .fault_address = xen_fault_address,
  .idle = xen_idle,
  .interrupt = xen_interrupt,
  .console_write = xen_console_write,
  .console_getc = xen_console_getc,
  .disk_sectors = blkfront_sectors,
  .disk_rw = blkfront_rw,
  .poweroff = xen_poweroff,
  .bench = xen_bench,
};
const struct arch_ops *ops = &xen_ops;

static void set_traps(void) {
  /* Flags: DPL in bits 0-1, bit 2 masks events on entry (the kernel runs with events masked). */
  static const struct trap_info traps[] = {
    { 0, 4, KERNEL_CS, (u32)trap_de }, { 1, 4, KERNEL_CS, (u32)trap_db },
    { 2, 4, KERNEL_CS, (u32)trap_nmi }, { 3, 4 | 3, KERNEL_CS, (u32)trap_bp },
    { 4, 4 | 3, KERNEL_CS, (u32)trap_of }, { 5, 4, KERNEL_CS, (u32)trap_br },
    { 6, 4, KERNEL_CS, (u32)trap_ud }, { 7, 4, KERNEL_CS, (u32)trap_nm },
    { 8, 4, KERNEL_CS, (u32)trap_df }, { 10, 4, KERNEL_CS, (u32)trap_ts },
    { 11, 4, KERNEL_CS, (u32)trap_np }, { 12, 4, KERNEL_CS, (u32)trap_ss },
    { 13, 4, KERNEL_CS, (u32)trap_gp }, { 14, 4, KERNEL_CS, (u32)trap_pf },
    { 16, 4, KERNEL_CS, (u32)trap_mf }, { 17, 4, KERNEL_CS, (u32)trap_ac },
    { VECTOR_SYSCALL, 4 | 3, KERNEL_CS, (u32)trap_syscall }, { 0, 0, 0, 0 },
  };
  check(hypercall(HYPERVISOR_set_trap_table, (u32)traps, 0, 0, 0, 0), "set_trap_table");
}

void xen_start(const struct start_info *info, u32 boot_esp);
void xen_start(const struct start_info *info, u32 boot_esp) {
  start = info;
  set_traps();
  nr_pages = info->nr_pages < MAX_PAGES ? info->nr_pages : MAX_PAGES;
  p2m = (const u32 *)info->mfn_list;
  m2p_init();
  console_ring = pfn_va(xen_pfn(info->console_mfn));
  console_port = info->console_evtchn;
  u32 first_free = (__pa(boot_esp) + PAGE_SIZE - 1) >> PAGE_SHIFT;
  struct boot_memory boot = {
    .first_free_pfn = first_free,
    .mapped_pfns = first_free + (512 << 10) / PAGE_SIZE, /* the builder maps at least 512 KiB more */
    .nr_pages = nr_pages,
    .master_pgdir = (u32 *)info->pt_base,
  };
  if (boot.mapped_pfns > nr_pages) boot.mapped_pfns = nr_pages;
  kmain(&boot);
}

void arch_late_init(void) {
  shared = (struct shared_info *)fixmap(FIXMAP_SHARED_INFO, start->shared_info | PTE_P | PTE_W);
  check(hypercall(HYPERVISOR_set_callbacks, KERNEL_CS, (u32)trap_event, KERNEL_CS, (u32)xen_failsafe, 0),
        "set_callbacks");
  u32 bind[3] = { VIRQ_TIMER, 0, 0 }; /* virq, vcpu, port out */
  check(hypercall(HYPERVISOR_event_channel_op, EVTCHNOP_bind_virq, (u32)bind, 0, 0, 0), "bind_virq");
  timer_port = bind[2];
  /* Xen starts a PV vCPU with a 100 Hz periodic timer; this kernel arms its own one-shots instead. */
  check(hypercall(HYPERVISOR_vcpu_op, VCPUOP_stop_periodic_timer, 0, 0, 0, 0), "stop_periodic_timer");
  arm_timer();
  xs_init();
  blkfront_init();
  control_init();
}
