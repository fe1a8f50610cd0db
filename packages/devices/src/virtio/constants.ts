// Virtio over MMIO, "version 2" (non-legacy) register layout: virtio spec v1.1, section 4.2.2.
// Offsets are relative to the start of the device's MMIO window; every register is 32 bits wide.

/** "virt" in little-endian ASCII; Linux's virtio_mmio probe refuses a window without it. */
export const VIRTIO_MMIO_MAGIC = 0x74726976;
/** Version 2 is the virtio 1.x layout; Linux falls back to legacy handling for version 1. */
export const VIRTIO_MMIO_VERSION = 2;
/** Vendor ID the driver reads; it has no meaning for the Linux drivers. "RVSR". */
export const VIRTIO_MMIO_VENDOR_ID = 0x52535652;

/** MMIO register offsets (section 4.2.2), with what the driver uses each one for. */
export const VirtioMmioReg = {
  /** R: the magic the driver checks first. */
  MagicValue: 0x000,
  /** R: 2, the layout the driver then assumes. */
  Version: 0x004,
  /** R: which device class this is; 0 means "no device here". */
  DeviceID: 0x008,
  VendorID: 0x00c,
  /** R: 32 feature bits of the word selected by DeviceFeaturesSel. */
  DeviceFeatures: 0x010,
  DeviceFeaturesSel: 0x014,
  /** W: 32 accepted feature bits for the word selected by DriverFeaturesSel. */
  DriverFeatures: 0x020,
  DriverFeaturesSel: 0x024,
  /** W: which virtqueue the Queue* registers below address. */
  QueueSel: 0x030,
  /** R: largest queue size the device accepts; 0 means the queue does not exist. */
  QueueNumMax: 0x034,
  /** W: queue size the driver chose (a power of two up to QueueNumMax). */
  QueueNum: 0x038,
  /** RW: 1 lets the device use the queue; the driver reads back 0 after a reset. */
  QueueReady: 0x044,
  /** W: index of the queue that has new available buffers. */
  QueueNotify: 0x050,
  /** R: bit 0 used buffers, bit 1 configuration change. */
  InterruptStatus: 0x060,
  /** W: bits to clear in InterruptStatus, written by the interrupt handler. */
  InterruptACK: 0x064,
  /** RW: device status (section 2.1); writing 0 resets the device. */
  Status: 0x070,
  QueueDescLow: 0x080,
  QueueDescHigh: 0x084,
  QueueDriverLow: 0x090,
  QueueDriverHigh: 0x094,
  QueueDeviceLow: 0x0a0,
  QueueDeviceHigh: 0x0a4,
  /** R: changes whenever the device changes its configuration space; the driver re-reads around it. */
  ConfigGeneration: 0x0fc,
  /** Start of the device-specific configuration space. */
  Config: 0x100,
} as const;

/**
 * Size of the MMIO window a machine gives each virtio-mmio device: one page, as Firecracker maps
 * them (`virtio_mmio.device=4K@<base>:<irq>` on the Linux command line). Offsets past the device's
 * configuration space read 0.
 */
export const VIRTIO_MMIO_WINDOW_SIZE = 0x1000;

/** Device status bits (section 2.1). */
export const VIRTIO_STATUS_ACKNOWLEDGE = 0x01;
export const VIRTIO_STATUS_DRIVER = 0x02;
export const VIRTIO_STATUS_DRIVER_OK = 0x04;
export const VIRTIO_STATUS_FEATURES_OK = 0x08;
/** VIRTIO_CONFIG_S_NEEDS_RESET: the device hit an error it cannot recover from without a reset. */
export const VIRTIO_STATUS_NEEDS_RESET = 0x40;
export const VIRTIO_STATUS_FAILED = 0x80;

/** InterruptStatus bits (section 4.2.2). */
export const VIRTIO_MMIO_INT_VRING = 0x1;
export const VIRTIO_MMIO_INT_CONFIG = 0x2;

/** Device-independent feature bits (section 6). */
export const VIRTIO_F_INDIRECT_DESC = 28;
export const VIRTIO_F_EVENT_IDX = 29;
export const VIRTIO_F_VERSION_1 = 32;

/** Device IDs (section 5). */
export const VIRTIO_ID_BLOCK = 2;
export const VIRTIO_ID_CONSOLE = 3;
export const VIRTIO_ID_RNG = 4;

/** The feature bit `bit` as a 64-bit mask. */
export function featureBit(bit: number): bigint {
  return 1n << BigInt(bit);
}
