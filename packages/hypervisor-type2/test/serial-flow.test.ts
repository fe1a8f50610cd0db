// A guest that transmits on COM1 as fast as it can must not make the host buffer its output without
// end: output is credited back only as the host sink writes it, so a sink that stalls holds the
// guest (its UART shows the transmitter full) and a sink that drains lets it go on.
import { describe, expect, it } from 'vitest';
import { HostedVm, type StrategyEntry } from '../dist/index.js';

const none: StrategyEntry = { name: 'none', module: import.meta.resolve('@ringvisor/x86-core'), exportName: 'noneStrategy' };

/** Real mode at 0x7c00: wait for THRE, send 'A', forever (a well-behaved driver with a lot to say). */
const FLOOD = Uint8Array.from([
  0xba, 0xfd, 0x03, // start: mov dx, 0x3fd     ; LSR
  0xec, //              wait:  in al, dx
  0xa8, 0x20, //               test al, 0x20    ; THRE
  0x74, 0xfb, //               jz wait
  0xba, 0xf8, 0x03, //         mov dx, 0x3f8    ; THR
  0xb0, 0x41, //               mov al, 'A'
  0xee, //                     out dx, al
  0xeb, 0xf0, //               jmp start
]);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('serial output flow control', () => {
  it('holds a flooding guest while the sink stalls and releases it when the sink drains', async () => {
    let received = 0;
    const stalled: (() => void)[] = [];
    let stall = true;
    const write = (bytes: Uint8Array) => new Promise<void>((written) => {
      received += bytes.length;
      if (stall) stalled.push(written);
      else written();
    });
    const vm = await HostedVm.start({
      strategy: none,
      machine: { memory: 1 << 20, boot: { kind: 'flat', image: FLOOD, address: 0x7c00 } },
      serial: { kind: 'console', write },
    });
    await sleep(1500);
    const whileStalled = received;
    // The credit (256 KiB) plus what the UART's FIFO holds: nothing more reached the host.
    expect(whileStalled).toBeGreaterThan(64 * 1024);
    expect(whileStalled).toBeLessThanOrEqual(256 * 1024 + 16);
    await sleep(500);
    expect(received).toBe(whileStalled); // still held: the guest is spinning on THRE

    stall = false;
    stalled.splice(0).forEach((written) => written());
    await sleep(1000);
    expect(received).toBeGreaterThan(whileStalled); // credit returned: output flows again

    vm.stop({ reason: 'stopped', detail: 'test over' });
    expect((await vm.done).end).toEqual({ reason: 'stopped', detail: 'test over' });
  }, 30_000);
});
