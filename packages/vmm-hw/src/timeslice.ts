// Bounds one Vcpu.run() in wall time. KVM_RUN only returns on an exit or a pending signal, so a
// guest spinning without exits would never give the hypervisor its timers back. Each vCPU thread
// gets a POSIX timer that sends it (SIGEV_THREAD_ID) a real-time signal while run() is active; the
// signal interrupts KVM_RUN with EINTR. The signal's handler is libc's getpid: async-signal-safe,
// it ignores its arguments and touches nothing, which is all a handler here has to do: exist, so
// that the signal interrupts instead of killing the process.
import type { Libc } from './kvm/libc.js';

const CLOCK_MONOTONIC = 1;
const SIGEV_THREAD_ID = 4;
const SA_RESTART = 0x1000_0000;
/** struct sigevent (x86-64 glibc): sigev_signo @8, sigev_notify @12, sigev_notify_thread_id @16. */
const SIGEVENT = { size: 64, signo: 8, notify: 12, tid: 16 } as const;
/** struct sigaction (x86-64 glibc): sa_handler @0, sa_mask (128 bytes) @8, sa_flags @136. */
const SIGACTION = { size: 152, handler: 0, flags: 136 } as const;
/** struct itimerspec: it_interval {tv_sec, tv_nsec}, it_value {tv_sec, tv_nsec}, all 64-bit. */
const ITIMERSPEC = { size: 32, intervalSec: 0, intervalNsec: 8, valueSec: 16, valueNsec: 24 } as const;
/** Shortest period the timer is armed with: each firing costs a host exit of its own. */
export const MIN_TIMER_PERIOD_NS = 100_000;
/** Longest period: a run() with a larger (or unbounded) budget still returns every second. */
export const MAX_TIMER_PERIOD_NS = 1_000_000_000;
/** Real-time signals tried above SIGRTMIN (glibc keeps the two below it for threads). */
const SIGNAL_CHOICES = 8;

let kickSignal: number | null | undefined;

/** Installs the handler once per process; null when every candidate signal is taken by someone else. */
function installKickSignal(libc: Libc): number | null {
  if (kickSignal !== undefined) return kickSignal;
  kickSignal = null;
  const handler = libc.symbol('getpid');
  const old = new Uint8Array(SIGACTION.size);
  const oldView = new DataView(old.buffer);
  for (let i = 2; i < 2 + SIGNAL_CHOICES; i++) {
    const signal = libc.sigrtmin() + i;
    if (libc.sigaction(signal, null, old) !== 0) continue;
    const current = oldView.getBigUint64(SIGACTION.handler, true);
    if (current !== 0n && current !== handler) continue; // someone else's signal
    const act = new Uint8Array(SIGACTION.size);
    const view = new DataView(act.buffer);
    view.setBigUint64(SIGACTION.handler, handler, true);
    view.setInt32(SIGACTION.flags, SA_RESTART, true);
    if (libc.sigaction(signal, act, null) === 0) {
      kickSignal = signal;
      break;
    }
  }
  return kickSignal;
}

/** A per-thread periodic timer, armed for the length of one run(). */
export class TimeSlice {
  private readonly spec = new Uint8Array(ITIMERSPEC.size);
  private readonly specView = new DataView(this.spec.buffer);
  private readonly disarmed = new Uint8Array(ITIMERSPEC.size);
  private periodNs = 0;

  private constructor(private readonly libc: Libc, private readonly timer: bigint) {}

  /** A timer aimed at the calling thread, or null where signals or timers are unavailable. */
  static forCurrentThread(libc: Libc): TimeSlice | null {
    const signal = installKickSignal(libc);
    if (signal === null) return null;
    const sev = new Uint8Array(SIGEVENT.size);
    const view = new DataView(sev.buffer);
    view.setInt32(SIGEVENT.signo, signal, true);
    view.setInt32(SIGEVENT.notify, SIGEV_THREAD_ID, true);
    view.setInt32(SIGEVENT.tid, libc.gettid(), true);
    const id = new Uint8Array(8);
    if (libc.timerCreate(CLOCK_MONOTONIC, sev, id) !== 0) return null;
    return new TimeSlice(libc, new DataView(id.buffer).getBigUint64(0, true));
  }

  /** Fires every `ns` (clamped to the periods above) until disarmed; a firing missed just before KVM_RUN is caught by the next. */
  arm(ns: number): void {
    const period = Number.isFinite(ns) ? Math.min(MAX_TIMER_PERIOD_NS, Math.max(MIN_TIMER_PERIOD_NS, Math.ceil(ns))) : MAX_TIMER_PERIOD_NS;
    if (period !== this.periodNs) {
      this.periodNs = period;
      const sec = BigInt(Math.floor(period / 1e9));
      const nsec = BigInt(period % 1e9);
      this.specView.setBigInt64(ITIMERSPEC.intervalSec, sec, true);
      this.specView.setBigInt64(ITIMERSPEC.intervalNsec, nsec, true);
      this.specView.setBigInt64(ITIMERSPEC.valueSec, sec, true);
      this.specView.setBigInt64(ITIMERSPEC.valueNsec, nsec, true);
    }
    this.libc.timerSettime(this.timer, 0, this.spec);
  }

  disarm(): void {
    this.libc.timerSettime(this.timer, 0, this.disarmed);
  }

  delete(): void {
    this.libc.timerDelete(this.timer);
  }
}
