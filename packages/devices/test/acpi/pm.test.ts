import { describe, expect, it } from 'vitest';
import { AcpiPm } from '../../src/acpi/pm.js';
import { PortIoBus } from '../../src/bus/port-io-bus.js';
import { ResetControlRegister } from '../../src/misc/reset-control-register.js';
import { ManualClock } from '../support/clock.js';
import { IrqRecorder } from '../support/irq.js';
import { lcg } from '../support/random.js';

const BASE = 0x600;
const PM1_STS = BASE;
const PM1_EN = BASE + 2;
const PM1_CNT = BASE + 4;
const PM_TMR = BASE + 8;
const S5 = 5;
const SLP_EN = 1 << 13;

function machine() {
  const clock = new ManualClock();
  const sci = new IrqRecorder();
  const bus = new PortIoBus();
  let powerOffs = 0;
  const pm = new AcpiPm({ clock, sci, base: BASE, softOffSleepType: S5, onPowerOff: () => powerOffs++ });
  bus.registerDevice(pm);
  return { clock, sci, bus, pm, powerOffs: () => powerOffs };
}

describe('ACPI PM1 control', () => {
  it('powers off when the OS writes SLP_TYP = \\_S5 then SLP_EN, as ACPICA does', () => {
    const m = machine();
    expect(m.bus.read(PM1_CNT, 2) & 1).toBe(1); // SCI_EN: always in ACPI mode
    const typed = (m.bus.read(PM1_CNT, 2) & ~(7 << 10)) | (S5 << 10);
    m.bus.write(PM1_CNT, 2, typed);
    expect(m.powerOffs()).toBe(0);
    expect(m.bus.read(PM1_CNT, 2)).toBe(typed); // SLP_TYP reads back
    m.bus.write(PM1_CNT, 2, typed | SLP_EN);
    expect(m.powerOffs()).toBe(1);
    expect(m.bus.read(PM1_CNT, 2) & SLP_EN).toBe(0); // write-only
  });

  it('ignores SLP_EN with a sleep type the DSDT never offered', () => {
    const m = machine();
    for (const type of [0, 1, 2, 3, 4, 6, 7]) m.bus.write(PM1_CNT, 2, (type << 10) | SLP_EN);
    expect(m.powerOffs()).toBe(0);
    expect(m.pm.ignoredSleepRequests).toBe(7);
  });

  it('gives every access width the same meaning: a byte write of the high half powers off too', () => {
    const m = machine();
    m.bus.write(PM1_CNT + 1, 1, ((S5 << 10) | SLP_EN) >> 8);
    expect(m.powerOffs()).toBe(1);
    m.bus.write(PM1_EN, 4, ((S5 << 10 | SLP_EN) << 16) | 0x0001); // a dword from PM1_EN reaches PM1_CNT
    expect(m.powerOffs()).toBe(2);
  });
});

describe('ACPI PM timer', () => {
  it('counts 3.579545 MHz ticks in 24 bits from the clock', () => {
    const m = machine();
    expect(m.bus.read(PM_TMR, 4)).toBe(0);
    m.clock.advance(1e9);
    expect(m.bus.read(PM_TMR, 4)).toBe(3_579_545);
    m.clock.advance(10e9); // 39 375 000 ticks wrap the 24-bit counter
    expect(m.bus.read(PM_TMR, 4)).toBe(39_374_995 % 2 ** 24);
    expect(m.bus.read(PM_TMR, 2)).toBe(39_374_995 % 2 ** 16);
    expect(m.bus.read(PM_TMR + 3, 1)).toBe(0);
    m.bus.write(PM_TMR, 4, 0); // read-only
    expect(m.bus.read(PM_TMR, 4)).toBe(39_374_995 % 2 ** 24);
  });

  it('reads all bytes of one access from one clock reading, even where time moves between calls', () => {
    // A host clock moves on every now(): here each reading is 1 tick later, starting at tick 0xff.
    let reads = 0;
    const tickNs = 1e9 / 3_579_545;
    const clock = { kind: 'host' as const, now: () => Math.ceil((0xff + reads++) * tickNs), schedule: () => 0, cancel: () => undefined };
    const bus = new PortIoBus();
    bus.registerDevice(new AcpiPm({ clock, sci: new IrqRecorder(), base: BASE, softOffSleepType: S5, onPowerOff: () => undefined }));
    reads = 0;
    // Byte by byte this would mix 0xff from the first reading with 0x01 from a later one (0x1ff).
    expect(bus.read(PM_TMR, 4)).toBe(0xff);
    expect(bus.read(PM_TMR, 2)).toBe(0x100);
    expect(bus.read(PM_TMR + 2, 4)).toBe(0xffff0000); // the timer's top bytes, then past the block: nothing drives the bus
  });

  it('sets TMR_STS at each bit-23 toggle and raises the SCI only while TMR_EN is set', () => {
    const m = machine();
    const toggleNs = (2 ** 23 / 3_579_545) * 1e9; // ~2.34 s
    m.clock.advance(toggleNs + 1000);
    expect(m.bus.read(PM1_STS, 2) & 1).toBe(1);
    expect(m.sci.level).toBe(false);
    m.bus.write(PM1_STS, 2, 1); // write 1 to clear
    expect(m.bus.read(PM1_STS, 2) & 1).toBe(0);
    m.bus.write(PM1_EN, 2, 1);
    expect(m.clock.pendingTimers).toBe(1);
    m.clock.advance(toggleNs);
    expect(m.sci.level).toBe(true);
    expect(m.clock.pendingTimers).toBe(0);
    m.bus.write(PM1_STS, 2, 1);
    expect(m.sci.level).toBe(false);
    m.bus.write(PM1_EN, 2, 0);
    expect(m.clock.pendingTimers).toBe(0);
  });
});

describe('ACPI fixed power button', () => {
  const PWRBTN = 1 << 8;

  it('latches PWRBTN_STS, raises the SCI only while PWRBTN_EN is set, and clears on a write of 1', () => {
    const m = machine();
    m.pm.pressPowerButton();
    expect(m.bus.read(PM1_STS, 2) & PWRBTN).toBe(PWRBTN);
    expect(m.sci.level).toBe(false); // not enabled: status only
    m.bus.write(PM1_EN, 2, PWRBTN);
    expect(m.bus.read(PM1_EN, 2)).toBe(PWRBTN);
    expect(m.sci.level).toBe(true); // enabling a set status raises it at once
    m.bus.write(PM1_STS, 2, 0xfeff); // every other bit: PWRBTN_STS stays
    expect(m.bus.read(PM1_STS, 2) & PWRBTN).toBe(PWRBTN);
    expect(m.sci.level).toBe(true);
    m.bus.write(PM1_STS + 1, 1, PWRBTN >> 8); // write 1 to clear, as a byte
    expect(m.bus.read(PM1_STS, 2) & PWRBTN).toBe(0);
    expect(m.sci.level).toBe(false);
    m.pm.pressPowerButton(); // enabled already: the press raises the SCI
    expect(m.sci.level).toBe(true);
    m.bus.write(PM1_EN, 2, 0); // disabling drops the line, the status stays
    expect(m.sci.level).toBe(false);
    expect(m.bus.read(PM1_STS, 2) & PWRBTN).toBe(PWRBTN);
    expect(m.powerOffs()).toBe(0); // the button only asks: the OS powers off through PM1_CNT
  });

  it('keeps the SCI up while either enabled event is pending: clearing one leaves the other', () => {
    const m = machine();
    const toggleNs = (2 ** 23 / 3_579_545) * 1e9;
    m.bus.write(PM1_EN, 2, PWRBTN | 1);
    m.pm.pressPowerButton();
    m.clock.advance(toggleNs + 1000);
    expect(m.bus.read(PM1_STS, 2) & (PWRBTN | 1)).toBe(PWRBTN | 1);
    m.bus.write(PM1_STS, 2, PWRBTN);
    expect(m.sci.level).toBe(true); // TMR_STS still set
    m.bus.write(PM1_STS, 2, 1);
    expect(m.sci.level).toBe(false);
    expect(m.clock.pendingTimers).toBe(1); // waiting for the next toggle again
  });

  it('presses repeated before the OS answers are one pending event', () => {
    const m = machine();
    m.bus.write(PM1_EN, 2, PWRBTN);
    for (let i = 0; i < 5; i++) m.pm.pressPowerButton();
    expect(m.sci.risingEdges).toBe(1);
    m.bus.write(PM1_STS, 2, PWRBTN);
    expect(m.bus.read(PM1_STS, 2) & PWRBTN).toBe(0);
  });
});

describe('ACPI PM block under hostile port I/O', () => {
  it.each([1, 2, 3])('seed %i: no throw, reads in range, one timer at most, power-off only through SLP_EN + S5, SCI = status & enable', (seed) => {
    const next = lcg(seed);
    const m = machine();
    let expectedPowerOffs = 0;
    for (let step = 0; step < 20_000; step++) {
      if (next() % 64 === 0) m.pm.pressPowerButton(); // the button among the guest's writes
      const port = BASE - 2 + (next() % 16);
      const size = ([1, 2, 4] as const)[next() % 3];
      if (next() % 2) {
        const value = next() % 5 === 0 ? 0xffff_ffff : ((next() << 9) ^ next()) >>> 0;
        // Which bytes land on PM1_CNT's high byte (the only place SLP_EN lives)? The bus routes by
        // the first port: an access starting outside the block reaches none of it.
        const claimed = port >= BASE && port < BASE + 12;
        for (let i = 0; claimed && i < size; i++) {
          const byte = (value >>> (8 * i)) & 0xff;
          if (port + i === PM1_CNT + 1 && byte & (SLP_EN >> 8) && ((byte >> 2) & 7) === S5) expectedPowerOffs++;
        }
        m.bus.write(port, size, value);
      } else {
        const value = m.bus.read(port, size);
        expect(value).toBeGreaterThanOrEqual(0);
        expect(value).toBeLessThan(2 ** (8 * size));
      }
      if (next() % 8 === 0) m.clock.advance(next() % 1_000_000_000);
      expect(m.clock.pendingTimers).toBeLessThanOrEqual(1);
      expect(m.sci.level).toBe((m.bus.read(PM1_STS, 2) & m.bus.read(PM1_EN, 2)) !== 0);
    }
    expect(m.powerOffs()).toBe(expectedPowerOffs);
    expect(m.bus.read(PM1_CNT, 1) & 1).toBe(1);
  });
});

describe('Reset control register (0xCF9)', () => {
  it('resets on RST_CPU, keeps SYS_RST and FULL_RST, ignores the rest', () => {
    let resets = 0;
    const bus = new PortIoBus();
    bus.registerDevice(new ResetControlRegister({ onReset: () => resets++ }));
    bus.write(0xcf9, 1, 0x02); // Linux reboot=pci: SYS_RST first...
    expect(resets).toBe(0);
    expect(bus.read(0xcf9, 1)).toBe(0x02);
    bus.write(0xcf9, 1, 0xf1);
    expect(resets).toBe(0);
    expect(bus.read(0xcf9, 1)).toBe(0x00);
    bus.write(0xcf9, 1, 0x06); // ...then SYS_RST | RST_CPU (the FADT's RESET_VALUE)
    expect(resets).toBe(1);
    bus.write(0xcf8, 4, 0x8000_0000); // PCI CONFIG_ADDRESS probes start at 0xCF8 and never reach it
    expect(resets).toBe(1);
  });
});
