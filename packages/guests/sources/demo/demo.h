/* The demo kernel's pieces and its system-call ABI: INT 0x80, number in EAX, arguments in EBX and
   ECX, result in EAX. */
#ifndef RV_DEMO_H
#define RV_DEMO_H
#include "../common/io.h"
#include "../common/paging.h"

#define SYS_WRITE 0    /* EBX = buffer, ECX = length (must lie in user memory) */
#define SYS_GETCHAR 1  /* next received byte, or -1 */
#define SYS_WAIT 2     /* halt until the next interrupt; returns ticks */
#define SYS_TICKS 3    /* timer ticks since boot (100 Hz) */
#define SYS_PUT_DEC 4  /* print EBX in decimal */
#define SYS_INFO 5     /* print the system information block */
#define SYS_POWEROFF 6 /* exit the VM with success */

#define TICK_HZ 100

/* Prints the CPUID vendor and brand (or family/model/stepping). */
void print_cpu_model(void);
/* The ring-3 task and its stack (both in user pages). */
#define USER_STACK_SIZE 4096
extern u8 user_stack[USER_STACK_SIZE];
void user_main(void);

#endif
