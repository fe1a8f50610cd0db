// ACPI fixed hardware registers (ACPI 6.5, section 4.8 "ACPI Hardware Features"), laid out in one
// I/O block the way Intel's PIIX4 places them at its PMBASE (PIIX4 datasheet, "Power Management
// I/O Space"): PM1 status/enable, PM1 control, then the power management timer.

/** PM1a event block: PM1_STS (2 bytes) then PM1_EN (2 bytes). The FADT's PM1_EVT_LEN is 4. */
export const PM1_STATUS_OFFSET = 0x00;
export const PM1_ENABLE_OFFSET = 0x02;
export const PM1_EVENT_LENGTH = 4;
/** PM1a control block: PM1_CNT (2 bytes). The FADT's PM1_CNT_LEN is 2. */
export const PM1_CONTROL_OFFSET = 0x04;
export const PM1_CONTROL_LENGTH = 2;
/** PM timer block: PM_TMR (4 bytes, 24 bits of count). The FADT's PM_TMR_LEN is 4. */
export const PM_TIMER_OFFSET = 0x08;
export const PM_TIMER_LENGTH = 4;
/** Ports the whole block decodes (0x06-0x07 and the gap are reserved and read as zero). */
export const PM_BLOCK_LENGTH = 0x0c;

/** The PM timer runs at 3.579545 MHz (ACPI 4.8.2.1 "Power Management Timer"). */
export const PM_TIMER_HZ = 3_579_545;
/** Without TMR_VAL_EXT in the FADT the counter is 24 bits wide. */
export const PM_TIMER_BITS = 24;
/** TMR_STS is set each time bit 23 of the counter toggles. */
export const PM_TIMER_STATUS_PERIOD = 1 << 23;

// PM1_STS (write 1 to clear).
/** TMR_STS: the timer's bit 23 toggled; raises the SCI while TMR_EN is set. */
export const PM1_TMR_STS = 1 << 0;
/** BM_STS: bus master activity (no bus masters here: never set). */
export const PM1_BM_STS = 1 << 4;
/** GBL_STS: firmware released the global lock (no firmware runs beside the OS: never set). */
export const PM1_GBL_STS = 1 << 5;
/** PWRBTN_STS: the fixed power button was pressed (`AcpiPm.pressPowerButton`); raises the SCI while PWRBTN_EN is set. */
export const PM1_PWRBTN_STS = 1 << 8;
/** SLPBTN_STS: the fixed sleep button was pressed (none declared). */
export const PM1_SLPBTN_STS = 1 << 9;
/** RTC_STS: the RTC alarm woke the system (FIX_RTC in the FADT: not here). */
export const PM1_RTC_STS = 1 << 10;
/** WAK_STS: the system woke from a sleep state (only S5 is offered, which ends the VM). */
export const PM1_WAK_STS = 1 << 15;

// PM1_EN.
export const PM1_TMR_EN = 1 << 0;
export const PM1_GBL_EN = 1 << 5;
export const PM1_PWRBTN_EN = 1 << 8;
export const PM1_SLPBTN_EN = 1 << 9;
export const PM1_RTC_EN = 1 << 10;
/** PCIEXP_WAKE_DIS (ACPI 3.0+): kept as written. */
export const PM1_PCIEXP_WAKE_DIS = 1 << 14;
export const PM1_ENABLE_WRITABLE =
  PM1_TMR_EN | PM1_GBL_EN | PM1_PWRBTN_EN | PM1_SLPBTN_EN | PM1_RTC_EN | PM1_PCIEXP_WAKE_DIS;

// PM1_CNT.
/**
 * SCI_EN: power management events go to the SCI rather than an SMI. The FADT has no SMI_CMD port,
 * so the machine is always in ACPI mode and this bit always reads 1.
 */
export const PM1_SCI_EN = 1 << 0;
/** BM_RLD: bus master requests take the CPU out of C3 (kept as written). */
export const PM1_BM_RLD = 1 << 1;
/** GBL_RLS: the OS released the global lock to firmware (write-only; no firmware listens). */
export const PM1_GBL_RLS = 1 << 2;
/** SLP_TYPx (bits 12-10): the sleep type SLP_EN enters, from the DSDT's \_Sx package. */
export const PM1_SLP_TYP_SHIFT = 10;
export const PM1_SLP_TYP_MASK = 0x7 << PM1_SLP_TYP_SHIFT;
/** SLP_EN: write 1 to enter the sleep state in SLP_TYPx (write-only, reads 0). */
export const PM1_SLP_EN = 1 << 13;
/** Bits of PM1_CNT that read back as written. */
export const PM1_CONTROL_STORED = PM1_BM_RLD | PM1_SLP_TYP_MASK;
