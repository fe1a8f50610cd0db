// Intel 8259A Programmable Interrupt Controller (datasheet 231468-003) and the PIIX/ICH Edge/Level
// Control Registers (ELCR) at 0x4d0/0x4d1. Bit names follow the datasheet.

/** Master command port (ICW1, OCW2, OCW3; reads IRR or ISR). */
export const MASTER_COMMAND = 0x20;
/** Master data port (ICW2-4, OCW1 = IMR). */
export const MASTER_DATA = 0x21;
/** Slave command port. */
export const SLAVE_COMMAND = 0xa0;
/** Slave data port. */
export const SLAVE_DATA = 0xa1;
/** ELCR for IRQ 0-7: a set bit makes the input level-triggered (PCI interrupts routed to ISA IRQs). */
export const ELCR_MASTER = 0x4d0;
/** ELCR for IRQ 8-15. */
export const ELCR_SLAVE = 0x4d1;

/** IRQ 0-2 (timer, keyboard, cascade) are edge-only on PC chipsets: their ELCR bits read 0. */
export const ELCR_MASTER_WRITABLE = 0xf8;
/** IRQ 8 (RTC) and IRQ 13 (FPU error) are edge-only on PC chipsets. */
export const ELCR_SLAVE_WRITABLE = 0xde;

/** Master input wired to the slave's INT output. */
export const CASCADE_IRQ = 2;

// ICW1 (command port write with bit 4 set): starts the initialisation sequence.
/** Marks a command-port write as ICW1. */
export const ICW1_INIT = 0x10;
/** IC4: an ICW4 follows (always set by PC drivers, to select 8086 mode). */
export const ICW1_IC4 = 0x01;
/** SNGL: single 8259, no ICW3 (never on PCs; honoured so the sequence length is right). */
export const ICW1_SNGL = 0x02;
/** LTIM: all inputs level-triggered (drivers leave it clear and use the ELCR instead). */
export const ICW1_LTIM = 0x08;

// ICW4.
/** µPM: 8086/88 mode, vector = ICW2 base + IRQ (8080 mode CALL vectors are not modelled). */
export const ICW4_8086 = 0x01;
/** AEOI: the INTA cycle ends the interrupt itself (some BIOSes and test kernels use it). */
export const ICW4_AEOI = 0x02;
/** SFNM: special fully nested mode, lets a slave interrupt nest inside another from the same slave. */
export const ICW4_SFNM = 0x10;

// OCW2 (command port write, bits 4-3 = 00): EOIs and priority rotation, selected by bits 7-5.
/** Non-specific EOI: the end-of-interrupt Linux sends after every handled IRQ. */
export const OCW2_EOI = 0x20;
/** Specific EOI of level bits 2-0: Linux's mask_and_ack sends 0x60 + irq. */
export const OCW2_SPECIFIC_EOI = 0x60;
/** Rotate on non-specific EOI: the serviced IRQ becomes lowest priority. */
export const OCW2_ROTATE_EOI = 0xa0;
/** Rotate on specific EOI. */
export const OCW2_ROTATE_SPECIFIC_EOI = 0xe0;
/** Set priority: level bits 2-0 becomes the lowest priority. */
export const OCW2_SET_PRIORITY = 0xc0;
/** Rotate in automatic EOI mode (set). */
export const OCW2_ROTATE_AEOI_SET = 0x80;
/** Rotate in automatic EOI mode (clear). */
export const OCW2_ROTATE_AEOI_CLEAR = 0x00;

// OCW3 (command port write, bits 4-3 = 01).
/** Marks a command-port write as OCW3. */
export const OCW3_SELECT = 0x08;
/** RR: act on RIS (choose which register the command port reads). */
export const OCW3_RR = 0x02;
/** RIS: read ISR instead of IRR (Linux reads ISR to detect spurious IRQ 7/15). */
export const OCW3_RIS = 0x01;
/** P: poll command, the next command-port read acknowledges and returns the highest request. */
export const OCW3_POLL = 0x04;
/** ESMM: act on SMM. */
export const OCW3_ESMM = 0x40;
/** SMM: special mask mode, masked in-service levels stop inhibiting lower priorities. */
export const OCW3_SMM = 0x20;

/** Poll-mode read: set when an interrupt was pending, with its level in bits 2-0. */
export const POLL_INTERRUPT = 0x80;
/** The level a chip reports when INTA finds no request left: IRQ 7 of that chip. */
export const SPURIOUS_LEVEL = 7;
