/* transfers.S with paging on, where the LDT and the ring-1, ring-2 and outer-return stack pages are each
 * absent a quarter of the time: #PF (with CR2 and error code) joins the faults the transfers
 * raise, in the order the checks meet them. Compared against QEMU. */
        .set PAGED, 1
        .include "transfers.S"
