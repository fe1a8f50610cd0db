/* Xen's x86-32 PV guest interface as this kernel uses it (numbers from Xen's public headers). */
#ifndef MK_XEN_H
#define MK_XEN_H
#include "mk.h"

enum {
  HYPERVISOR_set_trap_table = 0, HYPERVISOR_mmu_update = 1, HYPERVISOR_stack_switch = 3,
  HYPERVISOR_set_callbacks = 4, HYPERVISOR_fpu_taskswitch = 5, HYPERVISOR_multicall = 13, HYPERVISOR_update_va_mapping = 14, HYPERVISOR_set_timer_op = 15,
  HYPERVISOR_console_io = 18, HYPERVISOR_grant_table_op = 20, HYPERVISOR_iret = 23, HYPERVISOR_vcpu_op = 24,
  HYPERVISOR_mmuext_op = 26, HYPERVISOR_sched_op = 29, HYPERVISOR_event_channel_op = 32,
};
#define DOMID_SELF 0x7ff0
#define MMU_NORMAL_PT_UPDATE 0
#define UVMF_INVLPG 2
enum {
  MMUEXT_PIN_L1_TABLE = 0, MMUEXT_PIN_L2_TABLE = 1, MMUEXT_UNPIN_TABLE = 4, MMUEXT_NEW_BASEPTR = 5,
  MMUEXT_TLB_FLUSH_LOCAL = 6, MMUEXT_INVLPG_LOCAL = 7,
};
enum { SCHEDOP_yield = 0, SCHEDOP_block = 1, SCHEDOP_shutdown = 2 };
enum { SHUTDOWN_poweroff = 0, SHUTDOWN_reboot = 1, SHUTDOWN_crash = 3 };
enum { EVTCHNOP_bind_virq = 1, EVTCHNOP_send = 4, EVTCHNOP_alloc_unbound = 6 };
#define VIRQ_TIMER 0
/* xenstore message types (io/xs_wire.h) */
enum {
  XS_READ = 2, XS_WATCH = 4, XS_TRANSACTION_START = 6, XS_TRANSACTION_END = 7, XS_WRITE = 11,
  XS_WATCH_EVENT = 15, XS_ERROR = 16,
};
#define VCPUOP_stop_periodic_timer 7
#define GNTTABOP_setup_table 2
#define GTF_permit_access 1
#define GTF_readonly 4

struct start_info {
  char magic[32];
  u32 nr_pages, shared_info, flags, store_mfn, store_evtchn, console_mfn, console_evtchn;
  u32 pt_base, nr_pt_frames, mfn_list, mod_start, mod_len;
  char cmd_line[1024];
};

struct vcpu_time_info {
  u32 version, pad0;
  u64 tsc_timestamp, system_time;
  u32 tsc_to_system_mul;
  signed char tsc_shift;
  char pad1[3];
};

struct vcpu_info {
  u8 upcall_pending, upcall_mask;
  u16 pad;
  u32 pending_sel;
  u32 cr2, arch_pad[5];
  struct vcpu_time_info time;
};

struct shared_info {
  struct vcpu_info vcpu[32];
  u32 evtchn_pending[32];
  u32 evtchn_mask[32];
};

struct trap_info { u8 vector, flags; u16 cs; u32 address; };
struct mmu_update { u64 ptr, val; };
struct mmuext_op { u32 cmd, arg1, arg2; };
struct multicall_entry { u32 op; s32 result; u32 args[6]; };

/* Calls go through the hypercall page the domain builder filled (32 bytes a call). */
extern char hypercall_page[];
static inline int hypercall(u32 number, u32 a1, u32 a2, u32 a3, u32 a4, u32 a5) {
  u32 result = (u32)hypercall_page + number * 32; /* the entry in, the result out */
  __asm__ volatile("call *%0"
                   : "+a"(result), "+b"(a1), "+c"(a2), "+d"(a3), "+S"(a4), "+D"(a5)
                   :
                   : "memory");
  return (int)result;
}

/* arch-xen.c: for the block front end. */
extern struct shared_info *shared;
extern const struct start_info *start;
u32 xen_mfn(u32 pfn);
u32 xen_pfn(u32 mfn);
void xen_notify(u32 port);
void xen_yield(void);
/* xenstore.c: xs_call's reply (or error name) goes to out; -1 for XS_ERROR. tx 0: no transaction. */
void xs_init(void);
u32 xs_port(void);
int xs_call(u32 type, u32 tx, const char *path, const char *value, char *out, u32 size);
u32 xs_take_watch_events(void); /* watch events seen since the last call, the ring's unread ones too */
u32 xs_dec(const char *s);      /* a decimal number as the store writes them */
/* xen-control.c: the toolstack's shutdown requests */
void control_init(void);
void control_poll(void);
/* xen-blkfront.c */
void blkfront_init(void);
u32 blkfront_sectors(void);
int blkfront_rw(u32 sector, u8 *buffer, int write);
#endif
