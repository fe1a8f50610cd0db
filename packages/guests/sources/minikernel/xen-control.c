/* The toolstack's shutdown requests (xl shutdown, xl reboot): it writes the reason to this domain's
   xenstore node control/shutdown, where this kernel keeps a watch. A request is acknowledged by
   clearing the node in the transaction that read it (retried when the store says EAGAIN), as Linux
   does. "poweroff" and "reboot" are acknowledged and acted on, each through sched_op(shutdown) with
   its reason (a reboot is the toolstack's to carry out: this kernel only asks for it); any other
   value stays in the node for whoever handles it. */
#include "arch.h"
#include "xen.h"

#define NODE "control/shutdown"

/* The request read and cleared (SHUTDOWN_poweroff or SHUTDOWN_reboot), or -1 when there is none
   (empty, missing, another value). */
static int take_request(void) {
  char reply[16], reason[16];
  for (;;) {
    if (xs_call(XS_TRANSACTION_START, 0, "", NULL, reply, sizeof reply) < 0) return -1;
    u32 tx = xs_dec(reply);
    int request = -1;
    if (xs_call(XS_READ, tx, NODE, NULL, reason, sizeof reason) == 0) {
      if (strcmp(reason, "poweroff") == 0) request = SHUTDOWN_poweroff;
      else if (strcmp(reason, "reboot") == 0) request = SHUTDOWN_reboot;
    }
    if (request >= 0 && xs_call(XS_WRITE, tx, NODE, "", reply, sizeof reply) < 0) request = -1;
    if (xs_call(XS_TRANSACTION_END, tx, request >= 0 ? "T" : "F", NULL, reply, sizeof reply) == 0) return request;
    if (strcmp(reply, "EAGAIN") != 0) return -1;
  }
}

void control_poll(void) {
  if (!xs_take_watch_events()) return;
  int request = take_request();
  if (request < 0) return;
  if (request == SHUTDOWN_poweroff) {
    kputs("minikernel: shutdown requested by the toolstack\n");
    ops->poweroff(0);
  }
  kputs("minikernel: reboot requested by the toolstack\n");
  u32 reason = SHUTDOWN_reboot;
  for (;;) hypercall(HYPERVISOR_sched_op, SCHEDOP_shutdown, (u32)&reason, 0, 0, 0);
}

void control_init(void) {
  char reply[16];
  xs_call(XS_WRITE, 0, "control/feature-poweroff", "1", reply, sizeof reply);
  xs_call(XS_WRITE, 0, "control/feature-reboot", "1", reply, sizeof reply);
  /* The watch fires once when set: a request written before it is taken then. */
  if (xs_call(XS_WATCH, 0, NODE, "shutdown", reply, sizeof reply) == 0) control_poll();
}
