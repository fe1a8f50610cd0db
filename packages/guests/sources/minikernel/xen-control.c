/* The toolstack's shutdown requests (xl shutdown): it writes the reason to this domain's xenstore
   node control/shutdown, where this kernel keeps a watch. A request is acknowledged by clearing
   the node in the transaction that read it (retried when the store says EAGAIN), as Linux does.
   Only "poweroff" is acknowledged and acted on (this kernel has no reboot); any other value stays
   in the node for whoever handles it. */
#include "arch.h"
#include "xen.h"

#define NODE "control/shutdown"

/* 0 when a poweroff request was read and cleared, -1 when there is none (empty, missing, other). */
static int take_poweroff(void) {
  char reply[16], reason[16];
  for (;;) {
    if (xs_call(XS_TRANSACTION_START, 0, "", NULL, reply, sizeof reply) < 0) return -1;
    u32 tx = xs_dec(reply);
    int known = xs_call(XS_READ, tx, NODE, NULL, reason, sizeof reason) == 0 && strcmp(reason, "poweroff") == 0;
    if (known && xs_call(XS_WRITE, tx, NODE, "", reply, sizeof reply) < 0) known = 0;
    if (xs_call(XS_TRANSACTION_END, tx, known ? "T" : "F", NULL, reply, sizeof reply) == 0) return known ? 0 : -1;
    if (strcmp(reply, "EAGAIN") != 0) return -1;
  }
}

void control_poll(void) {
  if (!xs_take_watch_events() || take_poweroff() < 0) return;
  kputs("minikernel: shutdown requested by the toolstack\n");
  ops->poweroff(0);
}

void control_init(void) {
  char reply[16];
  xs_call(XS_WRITE, 0, "control/feature-poweroff", "1", reply, sizeof reply);
  /* The watch fires once when set: a request written before it is taken then. */
  if (xs_call(XS_WATCH, 0, NODE, "shutdown", reply, sizeof reply) == 0) control_poll();
}
