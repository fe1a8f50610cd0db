// The pCPU's side of a domain's DMA log (memory/dma-log.ts): the frames the domain's devices wrote
// are handed to the VM built here, whose emulated CPU then drops code it decoded from them.
import type { GuestMemory, MmioBus } from '@ringvisor/vmm-api';
import { DmaWriteLog } from '../memory/dma-log.js';

export class DmaDrain {
  private readonly log: DmaWriteLog;
  private memory: GuestMemory | null = null;
  private readonly notify = (address: number, length: number): void => this.memory?.notifyWrite(address, length);

  /** `wake`: rings the thread of a device that waits behind a fence in the log (the device-model thread). */
  constructor(buffer: SharedArrayBuffer, private readonly wake: () => void) {
    this.log = new DmaWriteLog(buffer);
  }

  /** The VM's memory, once the VM exists. */
  attach(memory: GuestMemory): void {
    this.memory = memory;
  }

  /** Called at every run boundary (disk requests completed meanwhile) and after every MMIO write. */
  readonly drain = (): void => {
    if (this.memory && this.log.drain(this.notify)) this.wake();
  };

  /** The vCPU enters or leaves a slice here (fences pass at once for a vCPU outside one). */
  running(inside: boolean): void {
    if (this.log.running(inside)) this.wake();
  }

  /** `bus` drained after every write: a virtio notify is served before the write returns, and the guest may run what it read next. */
  draining(bus: MmioBus): MmioBus {
    return {
      read: (address, size) => bus.read(address, size),
      write: (address, size, value) => {
        bus.write(address, size, value);
        this.drain();
      },
    };
  }
}
