/** Width of one bus access in bytes. */
export type AccessSize = 1 | 2 | 4;

/**
 * A device's face on the port-I/O bus. `port` is the absolute port number; the bus has already
 * matched it to this device's range. Values are unsigned and at most `size` bytes wide.
 */
export interface PortIoHandler {
  ioRead(port: number, size: AccessSize): number;
  ioWrite(port: number, size: AccessSize, value: number): void;
}

/** A device's face on the MMIO bus. `offset` is relative to the start of its registered window. */
export interface MmioHandler {
  mmioRead(offset: number, size: AccessSize): number;
  mmioWrite(offset: number, size: AccessSize, value: number): void;
}

/** The port-I/O bus as a vCPU sees it: unclaimed reads return all ones, unclaimed writes are dropped. */
export interface IoBus {
  read(port: number, size: AccessSize): number;
  write(port: number, size: AccessSize, value: number): void;
}

/** The MMIO bus as a vCPU sees it (addresses are guest-physical). Same unclaimed-access rule. */
export interface MmioBus {
  read(address: number, size: AccessSize): number;
  write(address: number, size: AccessSize, value: number): void;
}
