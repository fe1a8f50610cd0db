// The run loop against exits whose fields hold the worst a guest (or a confused kernel) could put
// there. No /dev/kvm: a stand-in libc answers KVM_RUN by writing the next exit into a run page
// held in an ordinary ArrayBuffer, so every field can be forged.
import { describe, expect, it } from 'vitest';
import {
  KVM_EXIT_HLT, KVM_EXIT_INTERNAL_ERROR, KVM_EXIT_IO, KVM_EXIT_IO_OUT, KVM_EXIT_MMIO, KVM_RUN,
} from '../src/kvm/constants.js';
import { KVM_RUN_PAGE } from '../src/kvm/layout.js';
import type { Libc } from '../src/kvm/libc.js';
import { HwVcpu } from '../src/vcpu.js';
import { FakePic, RecordingIo, RecordingMmio, Stats } from './kvm-guest.js';

const RUN_SIZE = 0x3000;
const IO_DATA = 0x1000; // where KVM puts port data (KVM_PIO_PAGE_OFFSET pages into the run area)

type Exit = (page: DataView) => void;

const io = (out: boolean, size: number, port: number, count: number, offset: bigint): Exit => (d) => {
  d.setUint32(KVM_RUN_PAGE.exit_reason, KVM_EXIT_IO, true);
  d.setUint8(KVM_RUN_PAGE.io_direction, out ? KVM_EXIT_IO_OUT : 0);
  d.setUint8(KVM_RUN_PAGE.io_size, size);
  d.setUint16(KVM_RUN_PAGE.io_port, port, true);
  d.setUint32(KVM_RUN_PAGE.io_count, count, true);
  d.setBigUint64(KVM_RUN_PAGE.io_data_offset, offset, true);
};

const mmio = (address: bigint, len: number, write: boolean, data = 0x8877665544332211n): Exit => (d) => {
  d.setUint32(KVM_RUN_PAGE.exit_reason, KVM_EXIT_MMIO, true);
  d.setBigUint64(KVM_RUN_PAGE.mmio_phys_addr, address, true);
  d.setBigUint64(KVM_RUN_PAGE.mmio_data, data, true);
  d.setUint32(KVM_RUN_PAGE.mmio_len, len, true);
  d.setUint8(KVM_RUN_PAGE.mmio_is_write, write ? 1 : 0);
};

const hlt: Exit = (d) => d.setUint32(KVM_RUN_PAGE.exit_reason, KVM_EXIT_HLT, true);

/** A vCPU whose KVM_RUN plays `exits` in order; the run page is returned for inspection. */
function scripted(exits: Exit[], events: string[] = []): { vcpu: HwVcpu; page: DataView; io: RecordingIo; mmio: RecordingMmio; stats: Stats } {
  const buffer = new ArrayBuffer(RUN_SIZE);
  const page = new DataView(buffer);
  let next = 0;
  const libc = {
    koffi: { view: () => buffer },
    ioctl: (_fd: number, request: number) => {
      if (request === KVM_RUN) {
        if (page.getUint8(KVM_RUN_PAGE.immediate_exit)) return 0;
        const exit = exits[next++];
        if (!exit) throw new Error('the run loop went past the last scripted exit');
        exit(page);
      }
      return 0; // KVM_GET_REGS: zeros
    },
    // No real-time signal is free here: run() goes without a time-slice timer.
    sigaction: () => -1,
    sigrtmin: () => 34,
    symbol: () => 1n,
    errno: () => 0,
    strerror: () => 'none',
    // Detaching the buffer makes any later read or write of the run page throw, as an unmapped page would fault.
    munmap: () => { events.push('munmap'); structuredClone(buffer, { transfer: [buffer] }); return 0; },
    close: () => { events.push('close'); return 0; },
  } as unknown as Libc;
  const recordingIo = new RecordingIo({ 0x60: 0xab, 0x61: 0xbeef });
  const recordingMmio = new RecordingMmio();
  const stats = new Stats();
  const ctx = { libc, io: recordingIo, mmio: recordingMmio, interrupts: new FakePic(), stats, isRom: () => false };
  return { vcpu: new HwVcpu(ctx, 0, 3, 0x1000n, RUN_SIZE, true), page, io: recordingIo, mmio: recordingMmio, stats };
}

describe('port I/O exits with hostile fields', () => {
  it('moves string I/O data through the run page at io.data_offset', () => {
    const m = scripted([io(false, 2, 0x61, 3, BigInt(IO_DATA)), io(true, 1, 0xe9, 2, BigInt(IO_DATA + 8)), hlt]);
    m.page.setUint16(IO_DATA + 8, 0x6948, true); // "Hi"
    expect(m.vcpu.run(1e9).reason).toBe('hlt');
    expect([0, 2, 4].map((at) => m.page.getUint16(IO_DATA + at, true))).toEqual([0xbeef, 0xbeef, 0xbeef]);
    expect(m.io.writes(0xe9)).toEqual([0x48, 0x69]);
  });

  it('touches neither the bus nor memory past the run page, whatever count, size and offset say', () => {
    const m = scripted([
      io(true, 4, 0x60, 0x4000_0000, BigInt(IO_DATA)), // count x size far past the page
      io(false, 4, 0x60, 1, BigInt(RUN_SIZE - 2)), // the last item straddles the end
      io(false, 1, 0x60, 1, 1n << 40n), // offset in the high dword
      io(false, 1, 0x60, 1, 0xffff_ffff_ffff_ffffn),
      io(true, 3, 0x60, 1, BigInt(IO_DATA)), // no such access size
      io(true, 0, 0x60, 1, BigInt(IO_DATA)),
      hlt,
    ]);
    const before = new Uint8Array(m.page.buffer).slice();
    expect(m.vcpu.run(1e9).reason).toBe('hlt');
    expect(m.io.log).toEqual([]);
    expect(new Uint8Array(m.page.buffer).subarray(IO_DATA)).toEqual(before.subarray(IO_DATA));
    expect(m.stats.byReason.get('io')).toBe(6); // each still counted, by its port
    expect(m.stats.byPort.get(0x60)).toBe(6);
  });
});

describe('MMIO exits with hostile fields', () => {
  it('cuts 8 bytes into two dwords and never reads past mmio.data, whatever len says', () => {
    const m = scripted([mmio(0xd000_0000n, 0xffff_ffff, true), mmio(0xd000_0010n, 3, true), hlt]);
    expect(m.vcpu.run(1e9).reason).toBe('hlt');
    expect(m.mmio.log).toEqual([
      { address: 0xd000_0000, size: 4, value: 0x44332211, write: true },
      { address: 0xd000_0004, size: 4, value: 0x88776655, write: true },
      { address: 0xd000_0010, size: 2, value: 0x2211, write: true },
      { address: 0xd000_0012, size: 1, value: 0x33, write: true },
    ]);
  });

  it('passes addresses above 4 GiB exactly and answers reads into mmio.data only', () => {
    const m = scripted([mmio(0xf_fed0_0008n, 8, false, 0n), hlt]);
    m.mmio.answers[0xf_fed0_0008] = 0x11223344;
    m.mmio.answers[0xf_fed0_000c] = 0x55667788;
    expect(m.vcpu.run(1e9).reason).toBe('hlt');
    expect(m.mmio.log.map((a) => a.address)).toEqual([0xf_fed0_0008, 0xf_fed0_000c]);
    expect(m.page.getBigUint64(KVM_RUN_PAGE.mmio_data, true)).toBe(0x55667788_11223344n);
  });
});

describe('internal-error exits with hostile fields', () => {
  it('clamps ndata and the instruction length to what the structure holds', () => {
    const m = scripted([(d) => {
      d.setUint32(KVM_RUN_PAGE.exit_reason, KVM_EXIT_INTERNAL_ERROR, true);
      d.setUint32(KVM_RUN_PAGE.internal_suberror, 1, true);
      d.setUint32(KVM_RUN_PAGE.internal_ndata, 0xffff_ffff, true);
      d.setBigUint64(KVM_RUN_PAGE.internal_data, 1n, true); // flags: instruction bytes valid
      d.setUint8(KVM_RUN_PAGE.emulation_failure_insn_size, 0xff);
      for (let i = 0; i < 15; i++) d.setUint8(KVM_RUN_PAGE.emulation_failure_insn_bytes + i, 0x90);
    }]);
    const exit = m.vcpu.run(1e9);
    expect(exit.reason).toBe('internal-error');
    expect(exit.reason === 'internal-error' && exit.detail).toBe(
      `KVM_EXIT_INTERNAL_ERROR suberror 1 (emulation failure) at RIP 0x0: instruction bytes ${Array(15).fill('90').join(' ')}`,
    );
  });

  it('reports an exit reason it does not know instead of looping or throwing', () => {
    const m = scripted([(d) => d.setUint32(KVM_RUN_PAGE.exit_reason, 0xdead, true)]);
    expect(m.vcpu.run(1e9)).toEqual({ reason: 'internal-error', detail: 'unhandled KVM exit reason 57005' });
  });
});

describe('a device that destroys the vCPU from inside an exit', () => {
  it('keeps the run page mapped until run() has returned, and run() ends there', () => {
    // E.g. a power-off port whose handler tears the VM down at once: the loop would otherwise read
    // the unmapped run page on its next step (and the fd number may already be someone else's).
    const events: string[] = [];
    const m = scripted([io(true, 1, 0xf4, 4, BigInt(IO_DATA)), hlt], events);
    const write = m.io.write.bind(m.io);
    m.io.write = (port, size, value) => {
      write(port, size, value);
      events.push(`out ${port.toString(16)}`);
      m.vcpu.destroy();
    };
    const exit = m.vcpu.run(1e9);
    events.push('returned');
    expect(exit).toEqual({ reason: 'shutdown', cause: 'power-off', detail: 'vCPU 0 destroyed during run()' });
    expect(events).toEqual(['out f4', 'munmap', 'close', 'returned']); // one OUT of the four, then gone
    expect(() => m.vcpu.run(1e9)).toThrow(/destroyed/);
  });
});
