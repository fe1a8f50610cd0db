// Which guest frames a domain's devices wrote by DMA since its pCPU last looked. The devices run on
// another thread (the device-model thread) or beside the vCPU (a board on its pCPU), but the code a
// pCPU decoded or compiled from guest RAM lives in that pCPU's VM: the pCPU drains this log into
// the VM's `notifyWrite` after every MMIO write (a virtio notify is served before it returns) and
// at every run boundary (deferred requests), so a page read from disk is never run from stale code.
import { FRAME_SIZE } from './frame-pool.js';

/** Word 0: set when any bit was set since the last drain; then one bit per guest frame. */
const PENDING = 0;
const BITMAP = 1;

export class DmaWriteLog {
  private readonly words: Int32Array;

  /** A log over `buffer` (from `DmaWriteLog.buffer(frames)`), shared by the domain's devices and its pCPU. */
  constructor(buffer: SharedArrayBuffer) {
    this.words = new Int32Array(buffer);
  }

  /** Shared memory for a domain of `frames` guest frames. */
  static buffer(frames: number): SharedArrayBuffer {
    return new SharedArrayBuffer((BITMAP + Math.ceil(frames / 32)) * 4);
  }

  /** Records a write to guest-physical `[address, address + length)`, which the caller checked is the domain's RAM. */
  mark(address: number, length: number): void {
    if (length <= 0) return;
    const last = Math.floor((address + length - 1) / FRAME_SIZE);
    for (let frame = Math.floor(address / FRAME_SIZE); frame <= last; frame++) {
      Atomics.or(this.words, BITMAP + (frame >>> 5), 1 << (frame & 31));
    }
    Atomics.store(this.words, PENDING, 1);
  }

  /** Hands every run of written frames to `notify` (guest-physical address, length) and forgets them. */
  drain(notify: (address: number, length: number) => void): void {
    if (Atomics.load(this.words, PENDING) === 0 || Atomics.exchange(this.words, PENDING, 0) === 0) return;
    let runStart = -1;
    let frame = 0;
    for (let i = BITMAP; i < this.words.length; i++, frame += 32) {
      const bits = Atomics.exchange(this.words, i, 0);
      // Whole words outside a run, or inside one, need no look at their bits.
      if ((bits === 0 && runStart < 0) || (bits === -1 && runStart >= 0)) continue;
      for (let b = 0; b < 32; b++) {
        const dirty = (bits & (1 << b)) !== 0;
        if (dirty && runStart < 0) runStart = frame + b;
        else if (!dirty && runStart >= 0) {
          notify(runStart * FRAME_SIZE, (frame + b - runStart) * FRAME_SIZE);
          runStart = -1;
        }
      }
    }
    if (runStart >= 0) notify(runStart * FRAME_SIZE, (frame - runStart) * FRAME_SIZE);
  }
}
