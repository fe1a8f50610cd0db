#include "io.h"

void guest_exit(u8 code) {
  outb(EXIT_PORT, code);
  /* Without an exit device the write is dropped: stop here rather than run on. */
  for (;;) {
    cli();
    hlt();
  }
}
