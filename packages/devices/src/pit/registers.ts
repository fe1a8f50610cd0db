// Intel 8254 Programmable Interval Timer (datasheet 231164-005) as wired in the PC/AT, plus the
// AT "system control port B" at 0x61 that gates channel 2 and reads back its output.

/** Counter 0 data port: the system timer (IRQ 0). */
export const CHANNEL0_DATA = 0x40;
/** Counter 1 data port: DRAM refresh on the AT, unused by modern drivers. */
export const CHANNEL1_DATA = 0x41;
/** Counter 2 data port: the speaker tone, and what Linux and BIOSes use to calibrate the TSC. */
export const CHANNEL2_DATA = 0x42;
/** Control word register (write only): mode, access and latch/read-back commands. */
export const CONTROL = 0x43;
/** System control port B: channel 2 gate and speaker enable (write), OUT2 and refresh (read). */
export const PORT_B = 0x61;

/** Input clock of all three counters, in Hz (14.31818 MHz / 12). */
export const PIT_HZ = 1_193_182;

// Control word fields.
/** SC1-SC0 (bits 7-6): the counter addressed, 3 = read-back command. */
export const CONTROL_SELECT_SHIFT = 6;
/** SC = 11: the read-back command (firmware test suites and some BIOSes use it). */
export const SELECT_READ_BACK = 3;
/** RW1-RW0 (bits 5-4): 0 = counter latch command, 1 = LSB only, 2 = MSB only, 3 = LSB then MSB. */
export const CONTROL_ACCESS_SHIFT = 4;
/** RW = 00: counter latch command; Linux latches counter 0 before reading it. */
export const ACCESS_LATCH = 0;
/** RW = 01: LSB only (one-byte counts, e.g. short delays). */
export const ACCESS_LSB = 1;
/** RW = 10: MSB only. */
export const ACCESS_MSB = 2;
/** RW = 11: LSB then MSB; what Linux uses for every counter. */
export const ACCESS_WORD = 3;
/** M2-M0 (bits 3-1): counting mode; 6 and 7 are aliases of modes 2 and 3. */
export const CONTROL_MODE_SHIFT = 1;
/** BCD (bit 0): count in four BCD decades (0-9999) instead of binary. */
export const CONTROL_BCD = 0x01;

// Read-back command (SC = 11): bits are active low.
/** COUNT# clear: latch the count of each selected counter. */
export const READ_BACK_NO_COUNT = 0x20;
/** STATUS# clear: latch the status byte of each selected counter. */
export const READ_BACK_NO_STATUS = 0x10;
/** Counter select bits 3-1 (counter 2, 1, 0). */
export const READ_BACK_COUNTER0 = 0x02;

// Status byte returned after a read-back status latch.
/** OUTPUT: the counter's OUT pin (Linux does not use it; firmware test suites do). */
export const STATUS_OUTPUT = 0x80;
/** NULL COUNT: a count was written but has not reached the counting element yet. */
export const STATUS_NULL_COUNT = 0x40;

// Port 0x61.
/** GATE2 (read/write): gates counter 2; TSC calibration sets it before programming mode 0. */
export const PORTB_GATE2 = 0x01;
/** SPKR DATA (read/write): lets OUT2 drive the speaker; calibration code keeps it clear. */
export const PORTB_SPEAKER = 0x02;
/** Parity and I/O channel check disables (read/write, kept so the guest reads back what it wrote). */
export const PORTB_WRITABLE = 0x0f;
/** REFRESH (read only): toggles every 15.085 µs; BIOS delay loops count its flips. */
export const PORTB_REFRESH = 0x10;
/** OUT2 (read only): counter 2's output; Linux's pit_calibrate_tsc spins on it. */
export const PORTB_OUT2 = 0x20;
/** Half-period of the DRAM refresh request signal, in ns. */
export const REFRESH_TOGGLE_NS = 15_085;
