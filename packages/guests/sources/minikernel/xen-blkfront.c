/* The PV block front end: finds its back end in xenstore (xenstore.c), shares a ring page and a
   data page through grant table v1 (grant_table.h), and exchanges blkif requests (io/blkif.h,
   x86-32 layout) on the ring, notifying over an event channel; completion is polled. */
#include "arch.h"
#include "xen.h"

#define FIXMAP_GRANTS 2
#define GREF_RING 8 /* the first references Linux leaves for the console and xenstore */
#define GREF_DATA 9
#define BLKIF_OP_READ 0
#define BLKIF_OP_WRITE 1
#define BLKIF_RING_SIZE 32
#define BLKIF_ENTRY_SIZE 108
#define VBD "device/vbd/768/"

struct grant_entry { u16 flags, domid; u32 frame; };
struct sring_header { u32 req_prod, req_event, rsp_prod, rsp_event; u8 pad[48]; };

static volatile struct grant_entry *grants;
static volatile struct sring_header *ring;
static u8 *data;
static u32 data_mfn, blk_port, req_prod, rsp_cons, sectors;
static char backend[64];

static void format_dec(char *out, u32 v) {
  char digits[10];
  int n = 0;
  do digits[n++] = (char)('0' + v % 10), v /= 10;
  while (v);
  while (n) *out++ = digits[--n];
  *out = 0;
}

static int xs_write_dec(const char *path, u32 value) {
  char text[12], reply[16];
  format_dec(text, value);
  return xs_call(XS_WRITE, 0, path, text, reply, sizeof reply);
}

static void backend_path(char *out, const char *key) {
  u32 n = strlen(backend);
  memcpy(out, backend, n);
  out[n] = '/';
  memcpy(out + n + 1, key, strlen(key) + 1);
}

static void grant(u32 ref, u32 mfn, int readonly) {
  grants[ref].domid = 0;
  grants[ref].frame = mfn;
  __asm__ volatile("" : : : "memory");
  grants[ref].flags = (u16)(GTF_permit_access | (readonly ? GTF_readonly : 0));
}

void blkfront_init(void) {
  char reply[64], path[96];
  if (xs_call(XS_READ, 0, VBD "backend", NULL, backend, sizeof backend) < 0) return; /* no disk */
  struct { u16 dom; u16 pad; u32 nr_frames; s32 status; u32 frame_list; } setup;
  u32 frame = 0;
  setup.dom = DOMID_SELF;
  setup.nr_frames = 1;
  setup.status = 0;
  setup.frame_list = (u32)&frame;
  if (hypercall(HYPERVISOR_grant_table_op, GNTTABOP_setup_table, (u32)&setup, 1, 0, 0) < 0 || setup.status) return;
  grants = (volatile struct grant_entry *)fixmap(FIXMAP_GRANTS, frame << PAGE_SHIFT | PTE_P | PTE_W);
  u32 ring_pfn = page_alloc(), data_pfn = page_alloc();
  if (!ring_pfn || !data_pfn) return;
  ring = pfn_va(ring_pfn);
  ring->req_event = ring->rsp_event = 1;
  data = pfn_va(data_pfn);
  data_mfn = xen_mfn(data_pfn);
  grant(GREF_RING, xen_mfn(ring_pfn), 0);
  struct { u16 dom, remote_dom; u32 port; } unbound = { DOMID_SELF, 0, 0 };
  if (hypercall(HYPERVISOR_event_channel_op, EVTCHNOP_alloc_unbound, (u32)&unbound, 0, 0, 0) < 0) return;
  blk_port = unbound.port;
  if (xs_write_dec(VBD "ring-ref", GREF_RING) < 0 || xs_write_dec(VBD "event-channel", blk_port) < 0
      || xs_write_dec(VBD "state", 3) < 0)
    return;
  backend_path(path, "state");
  for (u32 tries = 0;; tries++) {
    if (xs_call(XS_READ, 0, path, NULL, reply, sizeof reply) == 0 && xs_dec(reply) == 4) break;
    if (tries > 1000) return;
    xen_yield();
  }
  backend_path(path, "sectors");
  if (xs_call(XS_READ, 0, path, NULL, reply, sizeof reply) < 0) return;
  u32 count = xs_dec(reply);
  if (xs_write_dec(VBD "state", 4) < 0) return;
  sectors = count;
}

u32 blkfront_sectors(void) { return sectors; }

int blkfront_rw(u32 sector, u8 *buffer, int write) {
  if (sector >= sectors) return -1;
  if (write) memcpy(data, buffer, 512);
  grant(GREF_DATA, data_mfn, write);
  volatile u8 *entry = (volatile u8 *)ring + sizeof(struct sring_header)
      + (req_prod % BLKIF_RING_SIZE) * BLKIF_ENTRY_SIZE;
  for (u32 i = 0; i < BLKIF_ENTRY_SIZE; i++) entry[i] = 0;
  entry[0] = write ? BLKIF_OP_WRITE : BLKIF_OP_READ;
  entry[1] = 1;                                 /* nr_segments */
  *(volatile u16 *)(entry + 2) = 768;           /* handle */
  *(volatile u32 *)(entry + 4) = req_prod + 1;  /* id */
  *(volatile u32 *)(entry + 12) = sector;       /* sector_number */
  *(volatile u32 *)(entry + 20) = GREF_DATA;    /* seg[0].gref */
  entry[24] = 0;                                /* first_sect */
  entry[25] = 0;                                /* last_sect: one 512-byte sector */
  __asm__ volatile("" : : : "memory");
  ring->req_prod = ++req_prod;
  xen_notify(blk_port);
  for (u32 tries = 0; ring->rsp_prod == rsp_cons; tries++) {
    if (tries > 100000) return -1;
    xen_yield();
  }
  __asm__ volatile("" : : : "memory");
  volatile u8 *rsp = (volatile u8 *)ring + sizeof(struct sring_header) + (rsp_cons % BLKIF_RING_SIZE) * BLKIF_ENTRY_SIZE;
  s32 status = *(volatile short *)(rsp + 10);
  rsp_cons++;
  grants[GREF_DATA].flags = 0;
  if (status != 0) return -1;
  if (!write) memcpy(buffer, data, 512);
  return 0;
}
