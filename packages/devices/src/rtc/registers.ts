// Motorola MC146818A real-time clock and CMOS RAM (datasheet MC146818A/D) as wired in the PC/AT,
// with the CMOS layout firmware (SeaBIOS, OVMF) and the Linux rtc-cmos driver read.

/** Index port: bits 6-0 select the register, bit 7 masks NMI (kept for the VMM to read). */
export const INDEX_PORT = 0x70;
/** Data port: reads and writes the selected register. */
export const DATA_PORT = 0x71;
/** Bit 7 of the index byte: NMI disabled while set. */
export const INDEX_NMI_DISABLE = 0x80;

// Clock and alarm registers.
export const SECONDS = 0x00;
/** Alarm seconds (rtc-cmos wake alarms). */
export const SECONDS_ALARM = 0x01;
/** Minutes. */
export const MINUTES = 0x02;
/** Alarm minutes. */
export const MINUTES_ALARM = 0x03;
/** Hours, 0-23 or 1-12 with HOURS_PM. */
export const HOURS = 0x04;
/** Alarm hours. */
export const HOURS_ALARM = 0x05;
/** Day of week, 1 = Sunday (read by firmware, ignored by Linux). */
export const DAY_OF_WEEK = 0x06;
/** Day of month, 1-31. */
export const DAY_OF_MONTH = 0x07;
/** Month, 1-12. */
export const MONTH = 0x08;
/** Year within the century, 0-99. */
export const YEAR = 0x09;
/** Register A: UIP, divider and periodic rate; read first by every time read (UIP). */
export const REG_A = 0x0a;
/** Register B: SET, interrupt enables and data format; drivers read DM and 24/12 to decode. */
export const REG_B = 0x0b;
/** Register C: interrupt flags; the IRQ 8 handler must read it to re-arm the interrupt. */
export const REG_C = 0x0c;
/** Register D: VRT; rtc-cmos checks it for a dead battery. */
export const REG_D = 0x0d;
/** Century (IBM convention, named in the ACPI FADT): Linux reads it when the FADT points here. */
export const CENTURY = 0x32;

/** Alarm bytes with both top bits set match any value ("don't care"). */
export const ALARM_DONT_CARE = 0xc0;
/** Bit 7 of the hours register in 12-hour mode: PM. */
export const HOURS_PM = 0x80;

// Register A.
/** UIP: an update cycle is imminent or in progress; drivers wait for it to clear before reading. */
export const A_UIP = 0x80;
/** DV2-DV0 (bits 6-4): 010 selects the 32.768 kHz time base and runs the clock. */
export const A_DIVIDER_SHIFT = 4;
/** DV = 010: 32.768 kHz time base, the only running setting on PCs. */
export const DIVIDER_NORMAL = 2;
/** DV = 11x holds the divider chain in reset; the first update follows 500 ms after release. */
export const DIVIDER_RESET = 6;
/** RS3-RS0: periodic interrupt rate, period 2^(rate-1) / 32768 s (rates 1 and 2 alias 8 and 9). */
export const A_RATE = 0x0f;

// Register B.
/** SET: stops updates so the time can be written consistently; setting it clears UIE. */
export const B_SET = 0x80;
/** PIE: periodic interrupt enable (Linux's RTC_IRQP, hpet emulation). */
export const B_PIE = 0x40;
/** AIE: alarm interrupt enable (wake alarms). */
export const B_AIE = 0x20;
/** UIE: update-ended interrupt enable (hwclock --systohc waits for it). */
export const B_UIE = 0x10;
/** SQWE: square-wave output enable (the pin is not wired on PCs). */
export const B_SQWE = 0x08;
/** DM: binary data instead of BCD. */
export const B_BINARY = 0x04;
/** 24/12: 24-hour mode. */
export const B_24H = 0x02;
/** DSE: daylight-saving switching (not modelled: PCs keep it clear). */
export const B_DSE = 0x01;

// Register C (read-only, cleared by reading).
/** IRQF: one of the enabled flags below is set; the IRQ 8 line is asserted. */
export const C_IRQF = 0x80;
/** PF: a periodic interval elapsed. */
export const C_PF = 0x40;
/** AF: the time matched the alarm. */
export const C_AF = 0x20;
/** UF: an update cycle completed. */
export const C_UF = 0x10;

// Register D.
/** VRT: valid RAM and time (the battery is good). */
export const D_VRT = 0x80;

// Memory-size bytes (IBM AT layout plus the extensions QEMU and SeaBIOS agree on).
/** Base memory in KiB (640), LSB/MSB. */
export const BASE_MEMORY_LOW = 0x15;
/** Base memory, MSB. */
export const BASE_MEMORY_HIGH = 0x16;
/** Extended memory above 1 MiB in KiB, capped at 0xffff. Also at 0x30/0x31. */
export const EXTENDED_MEMORY_LOW = 0x17;
/** Extended memory, MSB. */
export const EXTENDED_MEMORY_HIGH = 0x18;
/** Second copy of the extended memory size (the one SeaBIOS reads), LSB. */
export const EXTENDED_MEMORY_LOW_COPY = 0x30;
/** Second copy, MSB. */
export const EXTENDED_MEMORY_HIGH_COPY = 0x31;
/** Memory between 16 MiB and 4 GiB in 64 KiB units (SeaBIOS builds its e820 map from it). */
export const ABOVE_16M_LOW = 0x34;
/** Memory above 16 MiB, MSB. */
export const ABOVE_16M_HIGH = 0x35;
/** Memory above 4 GiB in 64 KiB units, three bytes LSB first. */
export const ABOVE_4G_LOW = 0x5b;
/** Memory above 4 GiB, middle byte. */
export const ABOVE_4G_MID = 0x5c;
/** Memory above 4 GiB, high byte. */
export const ABOVE_4G_HIGH = 0x5d;
/** AT checksum (big-endian) over 0x10-0x2d, checked by classic BIOSes. */
export const CHECKSUM_HIGH = 0x2e;
/** AT checksum, low byte. */
export const CHECKSUM_LOW = 0x2f;

/** The update cycle starts this long after UIP rises (MC146818A, "Update Cycle"). */
export const UIP_LEAD_NS = 244_000;
/** Length of the update cycle at 32.768 kHz, during which UIP stays set. */
export const UPDATE_CYCLE_NS = 1_984_000;
