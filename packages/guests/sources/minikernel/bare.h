/* Port I/O and the bare build's device drivers. */
#ifndef MK_BARE_H
#define MK_BARE_H
#include "mk.h"

static inline void outb(u16 port, u8 value) { __asm__ volatile("outb %0, %1" : : "a"(value), "Nd"(port)); }
static inline void outw(u16 port, u16 value) { __asm__ volatile("outw %0, %1" : : "a"(value), "Nd"(port)); }
static inline u8 inb(u16 port) { u8 v; __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port)); return v; }

/* virtio-blk.c: the board's first virtio-mmio slot when it holds a disk. */
void virtio_blk_probe(void);
u32 virtio_blk_sectors(void);
int virtio_blk_rw(u32 sector, u8 *buffer, int write);
#endif
