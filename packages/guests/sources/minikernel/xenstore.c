/* The xenstore client (io/xs_wire.h): requests {type, req_id, tx_id, len} + payload on the store
   page's request ring, replies on its response ring. Watch events arrive on the response ring too,
   between replies or on their own: a call skips them and counts them, and the owner of the watch
   takes the count (this kernel sets one watch, control/shutdown). Called with events masked only
   (the kernel's own context, or the event upcall, which never interrupts a call in progress). */
#include "arch.h"
#include "xen.h"

#define XS_REQ 0
#define XS_RSP 1024
#define XS_REQ_CONS 2048
#define XS_REQ_PROD 2052
#define XS_RSP_CONS 2056
#define XS_RSP_PROD 2060
#define XS_RING 1024

static volatile u8 *store;
static u32 store_port, watch_events;

#define STORE_U32(offset) (*(volatile u32 *)(store + (offset)))

void xs_init(void) {
  store = pfn_va(xen_pfn(start->store_mfn));
  store_port = start->store_evtchn;
}

u32 xs_port(void) { return store_port; }

static void xs_put(const void *bytes, u32 n) {
  const u8 *b = bytes;
  for (u32 i = 0; i < n;) {
    u32 prod = STORE_U32(XS_REQ_PROD);
    if (prod - STORE_U32(XS_REQ_CONS) == XS_RING) {
      xen_notify(store_port);
      xen_yield();
      continue;
    }
    store[XS_REQ + (prod & (XS_RING - 1))] = b[i++];
    __asm__ volatile("" : : : "memory");
    STORE_U32(XS_REQ_PROD) = prod + 1;
  }
}

static void xs_get(void *bytes, u32 n) {
  u8 *b = bytes;
  for (u32 i = 0; i < n;) {
    u32 cons = STORE_U32(XS_RSP_CONS);
    if (cons == STORE_U32(XS_RSP_PROD)) {
      xen_notify(store_port);
      xen_yield();
      continue;
    }
    __asm__ volatile("" : : : "memory");
    u8 c = store[XS_RSP + (cons & (XS_RING - 1))];
    if (b) b[i] = c;
    i++;
    STORE_U32(XS_RSP_CONS) = cons + 1;
  }
}

/* The next message's header; a watch event's payload is skipped and counted, and 0 returned. */
static int xs_message(u32 header[4]) {
  xs_get(header, 4 * sizeof(u32));
  if (header[0] != XS_WATCH_EVENT) return 1;
  xs_get(NULL, header[3]);
  watch_events++;
  xen_notify(store_port);
  return 0;
}

int xs_call(u32 type, u32 tx, const char *path, const char *value, char *out, u32 size) {
  static u32 req_id;
  /* A watch's token is NUL-terminated like its path; a written value is not. */
  u32 path_len = strlen(path) + 1, value_len = value ? strlen(value) + (type == XS_WATCH) : 0;
  u32 header[4] = { type, ++req_id, tx, path_len + value_len };
  xs_put(header, sizeof header);
  xs_put(path, path_len);
  if (value) xs_put(value, value_len);
  xen_notify(store_port);
  while (!xs_message(header)) continue;
  u32 keep = header[3] < size - 1 ? header[3] : size - 1;
  xs_get(out, keep);
  xs_get(NULL, header[3] - keep);
  out[keep] = 0;
  xen_notify(store_port);
  return header[0] == XS_ERROR ? -1 : 0;
}

u32 xs_dec(const char *s) {
  u32 v = 0;
  while (*s >= '0' && *s <= '9') v = v * 10 + (u32)(*s++ - '0');
  return v;
}

u32 xs_take_watch_events(void) {
  u32 header[4];
  /* What the ring already holds: outside a call, only watch events come unasked. */
  while (STORE_U32(XS_RSP_CONS) != STORE_U32(XS_RSP_PROD)) {
    if (xs_message(header)) xs_get(NULL, header[3]); /* a reply nobody waits for */
  }
  u32 n = watch_events;
  watch_events = 0;
  return n;
}
