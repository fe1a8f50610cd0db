// The hypervisor's side of a pCPU's I/O request block: waits (without blocking the event loop) for
// the vCPU's next request and has the domain's device model answer it.
import {
  CTRL_ADDRESS, CTRL_DOMAIN, CTRL_KIND, CTRL_REQUEST, CTRL_RESPONSE, CTRL_SIZE, CTRL_VALUE,
} from './protocol.js';

/** Atomics.waitAsync: ES2024 (Node has it since 16), past the workspace's ES2023 lib. */
const waitAsync = (Atomics as unknown as {
  waitAsync(array: Int32Array, index: number, value: number): { async: boolean; value: Promise<string> | string };
}).waitAsync;

/** Serves one request: kind, domain, address, size, value → the value read (0 for writes). */
export type IoreqHandler = (kind: number, domain: number, address: number, size: number, value: number) => number;

export class IoreqServer {
  private stopped = false;

  constructor(private readonly ctrl: Int32Array, private readonly handle: IoreqHandler, private readonly onError: (error: unknown) => void) {
    void this.serve();
  }

  stop(): void {
    this.stopped = true;
    // Wake the pending waitAsync so the loop sees `stopped`.
    Atomics.notify(this.ctrl, CTRL_REQUEST);
  }

  private async serve(): Promise<void> {
    const c = this.ctrl;
    let seen = Atomics.load(c, CTRL_REQUEST);
    while (!this.stopped) {
      const wait = waitAsync(c, CTRL_REQUEST, seen);
      if (wait.async) await wait.value;
      const sequence = Atomics.load(c, CTRL_REQUEST);
      if (sequence === seen) continue;
      seen = sequence;
      let value = 0xffffffff;
      try {
        value = this.handle(c[CTRL_KIND], c[CTRL_DOMAIN], c[CTRL_ADDRESS] >>> 0, c[CTRL_SIZE], c[CTRL_VALUE] >>> 0);
      } catch (error) {
        // A device model that fails answers as an undriven bus; the hypervisor hears of it.
        this.onError(error);
      }
      c[CTRL_VALUE] = value | 0;
      Atomics.store(c, CTRL_RESPONSE, sequence);
      Atomics.notify(c, CTRL_RESPONSE);
    }
  }
}
