// sched_op (Xen's do_sched_op, common/sched/core.c) for 32- and 64-bit domains: yield, block,
// shutdown, shutdown_code, poll, remote_shutdown and watchdog, with Xen's checks and error codes.
// Every argument structure is copied in whole first, so an unreadable one is -EFAULT (the
// dispatcher turns the guest fault into it) before anything changes.
import {
  BACKEND_DOMID, EFAULT, EINVAL, ENOSPC, ENOSYS, EPERM, ESRCH, GUEST_DOMID, NR_DOMAIN_WATCHDOG_TIMERS, SCHED_POLL_MAX_PORTS,
  SCHEDOP_block, SCHEDOP_poll, SCHEDOP_remote_shutdown, SCHEDOP_shutdown, SCHEDOP_shutdown_code, SCHEDOP_watchdog, SCHEDOP_yield,
  SHUTDOWN_watchdog,
} from '../abi.js';
import type { EventChannels } from '../events.js';
import { domainShutdown, type PollWait, type SchedHost } from '../sched-state.js';
import type { DomainTime } from '../time.js';

/** What sched_op needs of a domain, 32- or 64-bit. */
export interface SchedOpHost extends SchedHost {
  readonly access: { read16(linear: number): number; read32(linear: number): number };
  readonly events: EventChannels;
  upcallMask: number;
}

/** How one ABI lays out a guest handle (struct sched_poll's `ports`) and checks a guest range (access_ok). */
export interface SchedLayout {
  readonly pointer: 4 | 8;
  rangeOk(linear: number, length: number): boolean;
}

const NS_PER_SECOND = 1e9;
/** A u64 timeout at or above this is negative as s_time_t: in the past. */
const TWO_63 = 2 ** 63;

export function schedOp(domain: SchedOpHost, time: DomainTime, layout: SchedLayout, cmd: number, arg: number): number {
  const access = domain.access;
  switch (cmd) {
    case SCHEDOP_yield: return 0;
    case SCHEDOP_block:
      // Blocking enables event delivery; a pending event returns at once and is delivered.
      domain.upcallMask = 0;
      if (!domain.eventPending()) domain.stop = 'block';
      return 0;
    case SCHEDOP_shutdown:
      // struct sched_shutdown {unsigned int reason}: Xen keeps the low byte.
      domainShutdown(domain, access.read32(arg), 'the guest reported a crash (SHUTDOWN_crash)');
      return 0;
    case SCHEDOP_shutdown_code: {
      // Latched for the shutdown to come; the first one stays.
      const reason = access.read32(arg);
      if (domain.sched.shutdownCode < 0) domain.sched.shutdownCode = reason & 0xff;
      return 0;
    }
    case SCHEDOP_poll: return poll(domain, time, layout, arg);
    case SCHEDOP_remote_shutdown: {
      // {domid_t domain_id; unsigned int reason @4}. The domains this one can name are itself and
      // the back ends' domain 0; it is neither privileged nor their device model (XSM_DM_PRIV):
      // -EPERM. Any other ID (DOMID_SELF included: Xen looks the ID up as given) names none.
      const target = access.read16(arg);
      access.read32(arg + 4);
      return target === GUEST_DOMID || target === BACKEND_DOMID ? EPERM : ESRCH;
    }
    case SCHEDOP_watchdog:
      // {uint32_t id; uint32_t timeout} (seconds).
      return watchdog(domain, time, access.read32(arg), access.read32(arg + 4));
    default:
      return ENOSYS;
  }
}

/**
 * SCHEDOP_poll {handle ports; unsigned int nr_ports; uint64_t timeout}: Xen's do_poll. At most 128
 * ports, the list inside the guest's half; an event the vCPU can take now, or a listed port
 * already pending, returns at once; a port past the allocated ones is -EINVAL. Otherwise the vCPU
 * blocks (events stay masked or not, as they were) until a listed port is raised (any port when
 * several are listed, as Xen wakes such a poller), an event raises its upcall, or system time
 * reaches `timeout` (0: none).
 */
function poll(domain: SchedOpHost, time: DomainTime, layout: SchedLayout, arg: number): number {
  const access = domain.access;
  const p = layout.pointer;
  const ports = p === 8 ? (access.read32(arg + 4) | 0) * 2 ** 32 + access.read32(arg) : access.read32(arg);
  const count = access.read32(arg + p);
  const timeout = access.read32(arg + 2 * p + 4) * 2 ** 32 + access.read32(arg + 2 * p);
  if (count > SCHED_POLL_MAX_PORTS) return EINVAL;
  if (!layout.rangeOk(ports, count * 4)) return EFAULT;
  if (domain.eventPending() && domain.upcallMask === 0) return 0;
  let port = 0;
  for (let i = 0; i < count; i++) {
    port = access.read32(ports + i * 4);
    const rc = domain.events.pollPort(port);
    if (rc !== 0) return rc > 0 ? 0 : rc;
  }
  domain.stop = 'block';
  const wait: PollWait = { port: count === 1 ? port : -1, woken: false, cancel: () => undefined };
  if (timeout !== 0) wait.cancel = time.at(timeout >= TWO_63 ? 0 : timeout, () => { wait.woken = true; });
  domain.poll = wait;
  return 0;
}

/**
 * SCHEDOP_watchdog: Xen's domain_watchdog. id 0 takes a free timer and returns its id (1 or 2;
 * -ENOSPC with none left); id N re-arms timer N, or frees it with timeout 0; an id not in use or
 * past the last is -EINVAL. A timer that expires shuts the domain down with SHUTDOWN_watchdog.
 */
function watchdog(domain: SchedOpHost, time: DomainTime, id: number, timeout: number): number {
  if (id > NR_DOMAIN_WATCHDOG_TIMERS) return EINVAL;
  const timers = domain.sched.watchdogs;
  const arm = (slot: number) => {
    timers[slot]?.();
    timers[slot] = time.at(time.now() + timeout * NS_PER_SECOND, () => domainShutdown(domain, SHUTDOWN_watchdog, 'watchdog'));
  };
  if (id === 0) {
    const slot = timers.indexOf(null);
    if (slot < 0) return ENOSPC;
    arm(slot);
    return slot + 1;
  }
  const slot = id - 1;
  if (timers[slot] === null) return EINVAL;
  if (timeout === 0) {
    timers[slot]!();
    timers[slot] = null;
  } else arm(slot);
  return 0;
}
