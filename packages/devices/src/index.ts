// @ringvisor/devices: PC platform devices and virtio-mmio devices, independent of any CPU.
export * from './virtio/index.js';
