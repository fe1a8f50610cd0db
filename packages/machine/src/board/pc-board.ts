import {
  AcpiPm, DebugExitPort, DualPic, I8042, MmioDispatchBus, Pit, PortIoBus, PostCodePort, RC_HARD_RESET,
  RESET_CONTROL_PORT, ResetControlRegister, Rtc, SystemControlPortA, Uart16550, type SerialBackend,
  type VirtioDevice, type VirtioMmioTransport,
} from '@ringvisor/devices';
import type { Clock, GuestMemory, MemoryRegionSpec, VmSpec } from '@ringvisor/vmm-api';
import type { AcpiPlatform } from '../acpi/platform-tables.js';
import { ExitCounters } from '../exit-stats.js';
import { pcMemoryMap, type MemoryMap } from '../memory-map.js';
import { programAsBiosLeavesIt } from './bios-handoff.js';
import { createVirtioDevice, createVirtioTransport, type VirtioDeviceConfig } from './virtio-slots.js';

/** ISA IRQ assignments of the PC/AT. */
export const IRQ_PIT = 0;
export const IRQ_KEYBOARD = 1;
export const IRQ_COM1 = 4;
export const IRQ_RTC = 8;
/** The ACPI SCI, on the line PIIX4-based PCs use; no virtio slot takes it (see VIRTIO_MMIO_IRQS). */
export const IRQ_SCI = 9;
export const IRQ_MOUSE = 12;
export const COM1_BASE = 0x3f8;
/** ACPI PM register block (PM1a event, PM1a control, PM timer), where QEMU's PIIX4 puts it. */
export const ACPI_PM_BASE = 0x600;
/** SLP_TYPx value of soft-off (S5): \_S5 in the DSDT announces it, PM1a control acts on it. */
export const SOFT_OFF_SLEEP_TYPE = 5;
/** CMOS index of the RTC's century byte (named in the FADT). */
const RTC_CENTURY_INDEX = 0x32;
/** What the RTC shows at power-on under a virtual clock, so runs are reproducible: 2026-01-01 00:00 UTC. */
export const VIRTUAL_RTC_EPOCH = Date.UTC(2026, 0, 1);

/**
 * What the guest asked the machine to do: stop with a status through the exit port (QEMU
 * isa-debug-exit: a write of v gives status (v << 1) | 1), power off through ACPI (SLP_EN with
 * the \_S5 sleep type), or reset through the keyboard controller, port 0x92 or the reset control
 * register at 0xCF9 (the FADT's reset register).
 */
export type ShutdownRequest =
  | { readonly cause: 'exit-port'; readonly status: number }
  | { readonly cause: 'power-off' }
  | { readonly cause: 'reset'; readonly source: 'i8042' | 'port-92' | 'reset-control' };

export interface PcBoardOptions {
  /** Guest RAM in bytes (address space, as `pcMemoryMap` counts it). */
  readonly ramSize: number;
  /** Devices schedule their deadlines on it; the run loop drives it. */
  readonly clock: Clock;
  /** Where COM1's output goes and its input comes from. */
  readonly serial: SerialBackend;
  /**
   * Firmware ROM (`--bios FILE`). With one the devices start in their power-on state for the
   * firmware to program; without one a loader starts the guest, and the board leaves the 8259s, the
   * PIT and COM1 as a PC BIOS leaves them after POST (see bios-handoff.ts).
   */
  readonly firmware?: Uint8Array;
  /**
   * Wall time the RTC starts from (ms since the Unix epoch). Default: VIRTUAL_RTC_EPOCH under a
   * virtual clock (reproducible runs), host time under a host clock.
   */
  readonly rtcTime?: number | Date;
  /** Virtio-mmio devices, one per slot in order. */
  readonly virtio?: readonly VirtioDeviceConfig[];
  /** Called when the guest writes the exit port or pulses reset (also kept in `shutdownRequest`). */
  readonly onShutdownRequest?: (request: ShutdownRequest) => void;
  /** Called when the A20 gate (keyboard controller OR port 0x92) changes; `a20` holds the state. */
  readonly onA20?: (enabled: boolean) => void;
}

/**
 * The PC board both hypervisor types share: memory map, port and MMIO buses, the 8259 pair with
 * the PIT on IRQ 0, the i8042 on IRQs 1/12, COM1 on IRQ 4, the RTC/CMOS on IRQ 8, ACPI PM
 * registers at 0x600 with the SCI on IRQ 9, the reset control register 0xCF9, port 0x92, the POST
 * port 0x80, the exit port 0xf4, and virtio-mmio slots (IRQs 5, 6, 7, 10, 11, 15). Build it, hand `vmSpec()` to a
 * strategy, then call `attachMemory(vm.memory)` before the first run so virtio devices can DMA.
 */
export class PcBoard {
  readonly memoryMap: MemoryMap;
  readonly io = new PortIoBus();
  readonly mmio = new MmioDispatchBus();
  readonly pic = new DualPic();
  readonly stats = new ExitCounters();
  readonly pit: Pit;
  readonly com1: Uart16550;
  readonly rtc: Rtc;
  readonly i8042: I8042;
  readonly portA: SystemControlPortA;
  readonly post = new PostCodePort();
  readonly exitPort: DebugExitPort;
  readonly acpiPm: AcpiPm;
  readonly resetControl: ResetControlRegister;
  /** The guest's first exit or reset request, or null while it runs on. */
  shutdownRequest: ShutdownRequest | null = null;
  /** Virtio device models by slot; their transports appear in `virtioTransports` after `attachMemory`. */
  readonly virtioDevices: readonly VirtioDevice[];
  private transports: VirtioMmioTransport[] = [];
  private attached = false;
  /** The A20 gate as last reported through `onA20` (initially the power-on state). */
  private reportedA20: boolean;

  constructor(readonly options: PcBoardOptions) {
    const virtio = options.virtio ?? [];
    this.memoryMap = pcMemoryMap({ ramSize: options.ramSize, firmware: options.firmware, virtioSlots: virtio.length });
    const { clock } = options;
    this.io.registerDevice(this.pic);
    this.pit = new Pit({ clock, irq: this.pic.irq(IRQ_PIT), reinject: true });
    this.pic.watch(IRQ_PIT, this.pit);
    this.io.registerDevice(this.pit);
    this.com1 = new Uart16550({ clock, irq: this.pic.irq(IRQ_COM1), backend: options.serial, base: COM1_BASE });
    this.io.registerDevice(this.com1);
    const below4G = this.memoryMap.ramBelow4G;
    this.rtc = new Rtc({
      clock, irq: this.pic.irq(IRQ_RTC), memoryBelow4G: below4G, memoryAbove4G: options.ramSize - below4G,
      baseTime: options.rtcTime ?? (clock.kind === 'virtual' ? VIRTUAL_RTC_EPOCH : Date.now()),
    });
    this.io.registerDevice(this.rtc);
    // Either source changing need not change the ORed gate; the strategy hears only real changes.
    const onA20 = (): void => {
      const a20 = this.a20;
      if (a20 === this.reportedA20) return;
      this.reportedA20 = a20;
      options.onA20?.(a20);
    };
    this.i8042 = new I8042({
      keyboardIrq: this.pic.irq(IRQ_KEYBOARD), auxIrq: this.pic.irq(IRQ_MOUSE),
      onReset: () => this.requestShutdown({ cause: 'reset', source: 'i8042' }), onA20,
    });
    this.io.registerDevice(this.i8042);
    this.portA = new SystemControlPortA({ onReset: () => this.requestShutdown({ cause: 'reset', source: 'port-92' }), onA20 });
    this.io.registerDevice(this.portA);
    this.reportedA20 = this.a20;
    this.io.registerDevice(this.post);
    this.exitPort = new DebugExitPort({ onExit: (status) => this.requestShutdown({ cause: 'exit-port', status }) });
    this.io.registerDevice(this.exitPort);
    this.acpiPm = new AcpiPm({
      clock, sci: this.pic.irq(IRQ_SCI), base: ACPI_PM_BASE, softOffSleepType: SOFT_OFF_SLEEP_TYPE,
      onPowerOff: () => this.requestShutdown({ cause: 'power-off' }),
    });
    this.io.registerDevice(this.acpiPm);
    this.resetControl = new ResetControlRegister({ onReset: () => this.requestShutdown({ cause: 'reset', source: 'reset-control' }) });
    this.io.registerDevice(this.resetControl);
    this.virtioDevices = virtio.map((config) => createVirtioDevice(config, clock));
    if (!options.firmware) programAsBiosLeavesIt(this.io, COM1_BASE);
  }

  /** A20 is enabled when either the keyboard controller's output port or port 0x92 enables it. */
  get a20(): boolean {
    return this.i8042.a20 || this.portA.a20;
  }

  /** What the ACPI tables say about this board (loaders that build tables take it). */
  get acpi(): AcpiPlatform {
    return {
      pmBase: ACPI_PM_BASE, sciIrq: IRQ_SCI, softOffSleepType: SOFT_OFF_SLEEP_TYPE,
      reset: { port: RESET_CONTROL_PORT, value: RC_HARD_RESET }, rtcCenturyIndex: RTC_CENTURY_INDEX,
      virtio: this.memoryMap.virtio,
    };
  }

  /**
   * Presses the ACPI fixed power button (what `xl shutdown`, QEMU's `system_powerdown` or a PC's
   * front panel do): PWRBTN_STS, an SCI once the OS enabled it. The OS decides what follows; a guest
   * that powers off writes SLP_TYP = \_S5 with SLP_EN, which ends the machine as a power-off.
   */
  pressPowerButton(): void {
    this.acpiPm.pressPowerButton();
  }

  /** The last POST code written to port 0x80, or null before any. */
  get postCode(): number | null {
    return this.post.lastCode < 0 ? null : this.post.lastCode;
  }

  private requestShutdown(request: ShutdownRequest): void {
    this.shutdownRequest ??= request;
    this.options.onShutdownRequest?.(request);
  }

  /** What a strategy's `createVm` needs. */
  vmSpec(ramBacking?: (region: MemoryRegionSpec) => ArrayBufferLike | undefined): VmSpec {
    return {
      regions: this.memoryMap.regions, io: this.io, mmio: this.mmio, interrupts: this.pic, stats: this.stats,
      clock: this.options.clock,
      ...(ramBacking ? { ramBacking } : {}),
    };
  }

  /** Connects the virtio-mmio transports to guest RAM and maps them into their slots. Call once. */
  attachMemory(memory: GuestMemory): void {
    if (this.attached) throw new Error('PcBoard.attachMemory called twice');
    this.attached = true;
    this.transports = this.virtioDevices.map((device, index) => {
      const slot = this.memoryMap.virtio[index];
      const transport = createVirtioTransport(device, memory, this.pic.irq(slot.irq));
      this.mmio.register(slot.base, slot.size, transport);
      return transport;
    });
  }

  get virtioTransports(): readonly VirtioMmioTransport[] {
    return this.transports;
  }
}
