// The host side of a byte-stream device (a terminal, a pipe, a socket, a test buffer). Output goes
// to `write`; input comes back through the device's `receive` method, called by whoever owns the
// host stream, so the backend needs no knowledge of the device.

export interface ByteStreamBackend {
  /** Bytes the guest sent. `bytes` may be a view of guest RAM: copy what you keep. */
  write(bytes: Uint8Array): void;
}
