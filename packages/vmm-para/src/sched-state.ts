// What sched_op keeps beyond a plain block (Xen's struct domain and vcpu fields of the same names):
// per domain the latched shutdown code and the watchdog timers, per vCPU its wait in SCHEDOP_poll;
// and Xen's domain_shutdown, through which every end of a PV domain goes.
import { NR_DOMAIN_WATCHDOG_TIMERS, SHUTDOWN_crash, SHUTDOWN_poweroff, SHUTDOWN_reboot, SHUTDOWN_watchdog } from './abi.js';

/** Why the vCPU must leave `run()`: blocked in sched_op (block or poll), or the domain is gone. */
export type DomainStop = null | 'block' | 'poweroff' | 'reboot' | 'crash' | 'watchdog';

/** A vCPU blocked in SCHEDOP_poll: the port that wakes it (-1 or 0: any, as Xen for several ports). */
export interface PollWait {
  readonly port: number;
  woken: boolean;
  /** Cancels the poll's timeout, if it has one. */
  cancel(): void;
}

/** The domain's part. */
export class SchedState {
  /** SCHEDOP_shutdown_code's latched reason (Xen's shutdown_code; -1 is SHUTDOWN_CODE_INVALID). */
  shutdownCode = -1;
  /** The watchdogs in use: each one's cancel. */
  readonly watchdogs: ((() => void) | null)[] = new Array(NR_DOMAIN_WATCHDOG_TIMERS).fill(null);
}

/** What shutdown and the wake-up check need of a vCPU and its domain, 32- or 64-bit. */
export interface SchedHost {
  stop: DomainStop;
  crashReason: string;
  readonly sched: SchedState;
  /** This vCPU's wait in SCHEDOP_poll. */
  poll: PollWait | null;
  eventPending(): boolean;
}

/** True once the domain has shut down or crashed (Xen's is_shutting_down). */
export function shuttingDown(stop: DomainStop): boolean {
  return stop !== null && stop !== 'block';
}

/**
 * Xen's domain_shutdown: the first reason is latched and every later one reports it (so a crash
 * after SCHEDOP_shutdown_code(reboot) ends the domain as a reboot, as in Xen); once shutting down,
 * nothing changes. `why` is a crash's detail. Reasons this hypervisor has no action for (suspend,
 * soft reset, unknown codes) crash the domain with the reason named.
 */
export function domainShutdown(host: SchedHost, reason: number, why: string): void {
  if (shuttingDown(host.stop)) return;
  const sched = host.sched;
  if (sched.shutdownCode < 0) sched.shutdownCode = reason & 0xff;
  const code = sched.shutdownCode;
  endPoll(host);
  switch (code) {
    case SHUTDOWN_poweroff: host.stop = 'poweroff'; return;
    case SHUTDOWN_reboot: host.stop = 'reboot'; return;
    case SHUTDOWN_watchdog: host.stop = 'watchdog'; return;
    default:
      host.stop = 'crash';
      host.crashReason = code === SHUTDOWN_crash ? why : `shutdown reason ${code} (no suspend support)`;
  }
}

/** The exit of a domain its watchdog shut down (vmm-api's cause for SHUTDOWN_watchdog). */
export const WATCHDOG_EXIT = { reason: 'shutdown', cause: 'watchdog', detail: 'SHUTDOWN_watchdog: a watchdog timer expired' } as const;

/** A blocked vCPU runs again: its block or poll is over. */
export function resume(host: SchedHost): void {
  host.stop = null;
  endPoll(host);
}

/** Ends a poll in progress (woken, or the domain gone): its timeout no longer matters. */
export function endPoll(host: { poll: PollWait | null }): void {
  host.poll?.cancel();
  host.poll = null;
}

/**
 * Whether a vCPU that left `run()` must run again: the domain ended meanwhile (its watchdog), a
 * poll was woken, or a plain block has an event to take.
 */
export function mayRun(host: SchedHost): boolean {
  if (host.stop !== 'block') return host.stop !== null;
  const poll = host.poll;
  return poll !== null ? poll.woken : host.eventPending();
}

/**
 * A port became pending: a poll waiting for it (or for any port) wakes, and so does any poll when
 * the event made upcall_pending rise (Xen's vcpu_kick unblocks a polling vCPU too).
 */
export function pollEventRaised(host: SchedHost, port: number, kicked: boolean): void {
  const poll = host.poll;
  // Xen's poll_evtchn <= 0 is "any port": a single-port poll of port 0 is woken by any port too.
  if (poll !== null && (kicked || poll.port <= 0 || poll.port === port)) poll.woken = true;
}
