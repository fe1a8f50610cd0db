// Public API of the virtio-mmio devices (virtio spec v1.1+, section 4.2 "Virtio Over MMIO").
export { VirtioMmioTransport, type VirtioMmioTransportOptions } from './mmio-transport.js';
export type { VirtioDevice, VirtioDeviceContext } from './device.js';
export { Virtqueue, VIRTQ_MAX_SIZE } from './virtqueue.js';
export { DescriptorChain, type Segment } from './descriptor-chain.js';
export { VirtioErrorCounters, VIRTIO_ERROR_KINDS, type VirtioErrorKind } from './errors.js';
export {
  VirtioMmioReg, VIRTIO_MMIO_MAGIC, VIRTIO_MMIO_VERSION, VIRTIO_MMIO_WINDOW_SIZE,
  VIRTIO_STATUS_ACKNOWLEDGE, VIRTIO_STATUS_DRIVER, VIRTIO_STATUS_FEATURES_OK, VIRTIO_STATUS_DRIVER_OK,
  VIRTIO_STATUS_NEEDS_RESET, VIRTIO_STATUS_FAILED, VIRTIO_MMIO_INT_VRING, VIRTIO_MMIO_INT_CONFIG,
  VIRTIO_F_INDIRECT_DESC, VIRTIO_F_EVENT_IDX, VIRTIO_F_VERSION_1,
  VIRTIO_ID_BLOCK, VIRTIO_ID_CONSOLE, VIRTIO_ID_RNG,
} from './constants.js';
export { VirtioBlock, type VirtioBlockOptions } from './block/device.js';
export type { VirtioBlockStats } from './block/stats.js';
export type { BlockBackend } from './block/backend.js';
export { AsyncVirtioBlock, type AsyncVirtioBlockOptions } from './block/async-device.js';
export type { AsyncBlockBackend, BlockDone } from './block/async-backend.js';
export { PIECE_BYTES } from './block/async-request.js';
export { MemoryBlockBackend, type MemoryBlockBackendOptions } from './block/memory-backend.js';
export { FileBlockBackend, type FileBlockBackendOptions } from './block/file-backend.js';
export { VirtioConsole, type VirtioConsoleOptions, type VirtioConsoleStats } from './console/device.js';
export { VirtioRng, type VirtioRngOptions } from './rng/device.js';
export { seededEntropy } from './rng/seeded-entropy.js';
