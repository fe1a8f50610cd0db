/* virtio-blk over virtio-mmio (spec v1.1, 4.2.2 and 5.2): the board puts the disk in its first
   slot at 0xd0000000. One queue of 8 descriptors; requests are three-descriptor chains (header,
   data, status) and the driver polls the used ring, which the device fills during the notify. */
#include "arch.h"
#include "bare.h"

#define MMIO_BASE 0xd0000000
#define FIXMAP_VIRTIO 1
#define QUEUE_SIZE 8
enum {
  REG_MAGIC = 0x000, REG_VERSION = 0x004, REG_DEVICE_ID = 0x008, REG_DEVICE_FEATURES = 0x010,
  REG_DEVICE_FEATURES_SEL = 0x014, REG_DRIVER_FEATURES = 0x020, REG_DRIVER_FEATURES_SEL = 0x024,
  REG_QUEUE_SEL = 0x030, REG_QUEUE_NUM_MAX = 0x034, REG_QUEUE_NUM = 0x038, REG_QUEUE_READY = 0x044,
  REG_QUEUE_NOTIFY = 0x050, REG_INTERRUPT_STATUS = 0x060, REG_INTERRUPT_ACK = 0x064, REG_STATUS = 0x070,
  REG_QUEUE_DESC = 0x080, REG_QUEUE_DRIVER = 0x090, REG_QUEUE_DEVICE = 0x0a0, REG_CAPACITY = 0x100,
};
#define STATUS_ACKNOWLEDGE 1
#define STATUS_DRIVER 2
#define STATUS_DRIVER_OK 4
#define STATUS_FEATURES_OK 8
#define DESC_NEXT 1
#define DESC_WRITE 2
#define BLK_T_IN 0
#define BLK_T_OUT 1

struct desc { u64 address; u32 length; u16 flags, next; };

static volatile u32 *regs;
static u32 sectors;
static struct desc *descs;       /* queue page: descriptors at 0, driver ring at 256, device ring at 512 */
static volatile u16 *avail;      /* flags, idx, ring[8] */
static volatile u16 *used;       /* flags, idx, then {u32 id, u32 len}[8] */
static u8 *request;              /* request page: header at 0, data at 512, status at 1024 */
static u32 queue_pa, request_pa;
static u16 used_seen;

static u32 reg(u32 offset) { return regs[offset / 4]; }
static void set_reg(u32 offset, u32 value) { regs[offset / 4] = value; }

void virtio_blk_probe(void) {
  regs = fixmap(FIXMAP_VIRTIO, MMIO_BASE | PTE_P | PTE_W | PTE_PCD | PTE_PWT);
  if (reg(REG_MAGIC) != 0x74726976 || reg(REG_VERSION) != 2 || reg(REG_DEVICE_ID) != 2) return;
  set_reg(REG_STATUS, 0);
  set_reg(REG_STATUS, STATUS_ACKNOWLEDGE | STATUS_DRIVER);
  set_reg(REG_DEVICE_FEATURES_SEL, 1);
  if (!(reg(REG_DEVICE_FEATURES) & 1)) return; /* VIRTIO_F_VERSION_1 (bit 32) */
  set_reg(REG_DRIVER_FEATURES_SEL, 1);
  set_reg(REG_DRIVER_FEATURES, 1);
  set_reg(REG_DRIVER_FEATURES_SEL, 0);
  set_reg(REG_DRIVER_FEATURES, 0);
  set_reg(REG_STATUS, STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK);
  if (!(reg(REG_STATUS) & STATUS_FEATURES_OK)) return;
  set_reg(REG_QUEUE_SEL, 0);
  if (reg(REG_QUEUE_NUM_MAX) < QUEUE_SIZE) return;
  u32 queue = page_alloc(), req = page_alloc();
  if (!queue || !req) return;
  queue_pa = queue << PAGE_SHIFT;
  request_pa = req << PAGE_SHIFT;
  descs = pfn_va(queue);
  avail = (volatile u16 *)((u8 *)descs + 256);
  used = (volatile u16 *)((u8 *)descs + 512);
  request = pfn_va(req);
  set_reg(REG_QUEUE_NUM, QUEUE_SIZE);
  set_reg(REG_QUEUE_DESC, queue_pa);
  set_reg(REG_QUEUE_DESC + 4, 0);
  set_reg(REG_QUEUE_DRIVER, queue_pa + 256);
  set_reg(REG_QUEUE_DRIVER + 4, 0);
  set_reg(REG_QUEUE_DEVICE, queue_pa + 512);
  set_reg(REG_QUEUE_DEVICE + 4, 0);
  set_reg(REG_QUEUE_READY, 1);
  set_reg(REG_STATUS, STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK | STATUS_DRIVER_OK);
  sectors = reg(REG_CAPACITY + 4) ? 0xffffffff : reg(REG_CAPACITY);
}

u32 virtio_blk_sectors(void) { return sectors; }

int virtio_blk_rw(u32 sector, u8 *buffer, int write) {
  if (sector >= sectors) return -1;
  u32 *header = (u32 *)request;
  header[0] = write ? BLK_T_OUT : BLK_T_IN;
  header[1] = 0;
  header[2] = sector;
  header[3] = 0;
  request[1024] = 0xff;
  if (write) memcpy(request + 512, buffer, 512);
  descs[0] = (struct desc){ request_pa, 16, DESC_NEXT, 1 };
  descs[1] = (struct desc){ request_pa + 512, 512, (u16)(DESC_NEXT | (write ? 0 : DESC_WRITE)), 2 };
  descs[2] = (struct desc){ request_pa + 1024, 1, DESC_WRITE, 0 };
  u16 index = avail[1];
  avail[2 + index % QUEUE_SIZE] = 0;
  __asm__ volatile("" : : : "memory");
  avail[1] = (u16)(index + 1);
  set_reg(REG_QUEUE_NOTIFY, 0);
  for (u32 spins = 0; used[1] == used_seen; spins++)
    if (spins > 10000000) return -1;
  used_seen = used[1];
  set_reg(REG_INTERRUPT_ACK, reg(REG_INTERRUPT_STATUS));
  if (request[1024] != 0) return -1;
  if (!write) memcpy(buffer, request + 512, 512);
  return 0;
}
