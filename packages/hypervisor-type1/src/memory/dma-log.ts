// Which guest frames a domain's devices wrote by DMA since its pCPU last looked. The devices run on
// another thread (the device-model thread) or beside the vCPU (a board on its pCPU), but the code a
// pCPU decoded or compiled from guest RAM lives in that pCPU's VM: the pCPU drains this log into
// the VM's `notifyWrite` after every MMIO write and at every run boundary (requests that completed
// meanwhile), so a page read from disk is never run from stale code.
// A device that completes requests asynchronously (virtio-blk on the device-model thread) writes
// the data while the vCPU may be running, so it holds the completion (status byte, used ring)
// behind a fence until the pCPU has drained the frames: a driver that polls the used ring then
// cannot see the request done before its CPU dropped the code it decoded from those frames.
import { FRAME_SIZE } from './frame-pool.js';

/** Set when any bit was set since the last drain. */
const PENDING = 0;
/** Drains finished (wraps; only compared for change). */
const DRAINS = 1;
/** 1 while the domain's vCPU is inside a slice on a pCPU (outside one, its next slice drains before it runs). */
const RUNNING = 2;
/** 1 while a device waits behind a fence: the pCPU then wakes the device's thread after each drain. */
const WAITING = 3;
/** One bit per guest frame. */
const BITMAP = 4;

/** A point after some marks: passed once every frame marked before it has been drained. */
export interface DmaFence {
  /** The drain count seen once a drain had started after the marks (PENDING taken), or null before. */
  drainsAtStart: number | null;
}

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

  /**
   * Hands every run of written frames to `notify` (guest-physical address, length) and forgets
   * them. Returns true when a device waits behind a fence (its thread should be woken).
   */
  drain(notify: (address: number, length: number) => void): boolean {
    if (Atomics.load(this.words, PENDING) !== 0 && Atomics.exchange(this.words, PENDING, 0) !== 0) this.notifyRuns(notify);
    Atomics.add(this.words, DRAINS, 1);
    return Atomics.load(this.words, WAITING) !== 0;
  }

  /** The pCPU's side: the domain's vCPU enters (true) or leaves (false) a slice. Returns whether a device waits. */
  running(inside: boolean): boolean {
    Atomics.store(this.words, RUNNING, inside ? 1 : 0);
    return Atomics.load(this.words, WAITING) !== 0;
  }

  /** The device's side: a fence after the marks made so far. */
  fence(): DmaFence {
    return { drainsAtStart: null };
  }

  /**
   * True once no code decoded before the fence's marks can run: the vCPU is outside a slice (its
   * next one drains first), or a drain that began after the marks (it found PENDING, which the
   * marks set, and took every bit after taking it) has finished since.
   */
  passed(fence: DmaFence): boolean {
    if (Atomics.load(this.words, RUNNING) === 0) return true;
    if (fence.drainsAtStart === null) {
      if (Atomics.load(this.words, PENDING) !== 0) return false;
      // A drain took PENDING after the marks; it may still be running: wait for the count to move on.
      fence.drainsAtStart = Atomics.load(this.words, DRAINS);
      return false;
    }
    return Atomics.load(this.words, DRAINS) !== fence.drainsAtStart;
  }

  /** The device's side: whether it waits behind a fence (the pCPU then wakes its thread after drains). */
  setWaiting(waiting: boolean): void {
    Atomics.store(this.words, WAITING, waiting ? 1 : 0);
  }

  private notifyRuns(notify: (address: number, length: number) => void): void {
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
