/* Identity paging of the first 8 MiB (4 KiB pages, CR0.WP on), user-accessible only in the .user
   section [__user_start, __user_end); page 0 unmapped so a null pointer faults. */
#ifndef RV_PAGING_H
#define RV_PAGING_H
#include "io.h"

void paging_init(void);
/* Whether [address, address + length) lies in the user-accessible pages. */
int is_user_range(u32 address, u32 length);

/* The page-table entry that maps `address`, or 0 outside the mapped 8 MiB (flush with INVLPG). */
u32 *paging_pte(u32 address);

#endif
