// Public API of the virtio-mmio devices (virtio spec v1.1+, section 4.2 "Virtio Over MMIO").
export {};
