// Intel 8042 keyboard controller as programmed by PC firmware and Linux's i8042 driver (IBM PS/2
// Hardware Interface Technical Reference, "Keyboard/Auxiliary Device Controller"), and the PS/2
// keyboard commands the atkbd driver sends through it.

/** Data port: output buffer (read), keyboard or command parameter (write). */
export const DATA_PORT = 0x60;
/** Status register (read) / controller command (write). */
export const COMMAND_PORT = 0x64;

// Status register.
/** OBF: a byte waits in the output buffer; every driver polls it before reading 0x60. */
export const STATUS_OBF = 0x01;
/** IBF: the controller has not taken the last write yet (never set: writes are taken at once). */
export const STATUS_IBF = 0x02;
/** SYS: system flag from the command byte (set after a successful POST). */
export const STATUS_SYS = 0x04;
/** A2: the last write went to the command port. */
export const STATUS_A2 = 0x08;
/** INH: keyboard not inhibited (the key lock is open). */
export const STATUS_UNLOCKED = 0x10;
/** AUXDATA: the output buffer byte came from the auxiliary (mouse) port; i8042 routes it to serio1. */
export const STATUS_AUXDATA = 0x20;
/** Timeout: the device did not answer (how a missing mouse shows up). */
export const STATUS_TIMEOUT = 0x40;

// Command byte (controller RAM byte 0).
/** INT: interrupt on IRQ 1 when the output buffer holds keyboard data. */
export const CTR_KBDINT = 0x01;
/** INT2: interrupt on IRQ 12 when the output buffer holds auxiliary data. */
export const CTR_AUXINT = 0x02;
/** SYS flag. */
export const CTR_SYS = 0x04;
/** EN (inverted): keyboard interface disabled. */
export const CTR_KBDDIS = 0x10;
/** EN2 (inverted): auxiliary interface disabled; Linux checks it toggles to detect a mouse port. */
export const CTR_AUXDIS = 0x20;
/** XLATE: translate keyboard scan code set 2 to set 1. */
export const CTR_XLATE = 0x40;

// Controller commands (written to 0x64).
/** Read controller RAM byte (0x20 = command byte) ... 0x3f. */
export const CMD_READ_RAM = 0x20;
/** Write controller RAM byte ... 0x7f; the byte follows on 0x60. 0x60 writes the command byte. */
export const CMD_WRITE_RAM = 0x60;
/** Disable the auxiliary interface (sets CTR_AUXDIS): Linux checks the bit follows. */
export const CMD_AUX_DISABLE = 0xa7;
/** Enable the auxiliary interface (clears CTR_AUXDIS). */
export const CMD_AUX_ENABLE = 0xa8;
/** Auxiliary interface test: 0x00 = OK. */
export const CMD_AUX_TEST = 0xa9;
/** Controller self test: 0x55 = OK. Linux runs it at probe and resume. */
export const CMD_SELF_TEST = 0xaa;
/** Keyboard interface test: 0x00 = OK. */
export const CMD_KBD_TEST = 0xab;
/** Disable the keyboard interface (sets CTR_KBDDIS) while the driver reprograms it. */
export const CMD_KBD_DISABLE = 0xad;
/** Enable the keyboard interface. */
export const CMD_KBD_ENABLE = 0xae;
/** Read input port. */
export const CMD_READ_INPUT = 0xc0;
/** Read output port. */
export const CMD_READ_OUTPUT = 0xd0;
/** Write output port (next data byte): bit 0 low resets the CPU, bit 1 is the A20 gate. */
export const CMD_WRITE_OUTPUT = 0xd1;
/** Write the next data byte to the output buffer as if the keyboard sent it. */
export const CMD_WRITE_KBD_OUTPUT = 0xd2;
/** Write the next data byte to the output buffer as if the mouse sent it (Linux's AUX loop test). */
export const CMD_WRITE_AUX_OUTPUT = 0xd3;
/** Send the next data byte to the auxiliary device. */
export const CMD_WRITE_AUX = 0xd4;
/** Disable / enable A20 directly (HP Vectra style, understood by most controllers). */
export const CMD_DISABLE_A20 = 0xdd;
/** Enable A20 directly. */
export const CMD_ENABLE_A20 = 0xdf;
/** Pulse output port lines low for 6 µs: bits 3-0 select (0 = pulse); 0xFE pulses the reset line. */
export const CMD_PULSE_BASE = 0xf0;

// Output port.
/** System reset line (active low). */
export const OUTPUT_RESET = 0x01;
/** A20 gate: Linux's enable_a20_kbc writes 0xdf. */
export const OUTPUT_A20 = 0x02;
/** Output buffer full with keyboard data (IRQ 1 line). */
export const OUTPUT_KBD_IRQ = 0x10;
/** Output buffer full with auxiliary data (IRQ 12 line). */
export const OUTPUT_AUX_IRQ = 0x20;

/** Input port: keyboard not inhibited. */
export const INPUT_UNLOCKED = 0x80;

// Controller replies.
export const SELF_TEST_OK = 0x55;
/** Keyboard/AUX interface test passed (no stuck clock or data line). */
export const INTERFACE_TEST_OK = 0x00;

// PS/2 keyboard commands (written to 0x60 with no controller command pending) and replies.
export const KBD_SET_LEDS = 0xed;
/** Echo: the keyboard answers 0xEE (a presence check). */
export const KBD_ECHO = 0xee;
/** Select scan code set (parameter 1-3), or report it (parameter 0). */
export const KBD_SCANCODE_SET = 0xf0;
/** Identify: ACK, then 0xAB 0x83 (0xAB 0x41 through translation). atkbd's probe. */
export const KBD_GET_ID = 0xf2;
/** Set typematic rate and delay (parameter byte follows). */
export const KBD_SET_TYPEMATIC = 0xf3;
/** Enable scanning: atkbd sends it once probing is done. */
export const KBD_ENABLE = 0xf4;
/** Disable scanning: atkbd sends it before probing. */
export const KBD_DISABLE = 0xf5;
/** Restore default scan set and typematic settings. */
export const KBD_SET_DEFAULTS = 0xf6;
/** Resend the last byte. */
export const KBD_RESEND = 0xfe;
/** Reset: ACK then 0xAA (basic assurance test passed). */
export const KBD_RESET = 0xff;
/** Acknowledge of every command byte the keyboard understood. */
export const KBD_ACK = 0xfa;
/** Basic assurance test passed, sent after reset and at power-on. */
export const KBD_BAT_OK = 0xaa;
/** Sent for a command the keyboard does not know. */
export const KBD_NAK = 0xfe;
