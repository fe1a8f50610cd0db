// Event channels (xen/common/event_channel.c): ports whose pending and mask bits live in
// shared_info, a per-vCPU selector word and upcall_pending flag; a newly pending, unmasked port
// raises the upcall of the vCPU it notifies (the one it was bound for, or moved to by bind_vcpu). Ports are bound to a VIRQ, left unbound for a remote domain, connected to
// one of this hypervisor's back ends (console, xenstore, block), which are "domain 0", or to
// another port of the domain itself (bind_interdomain with DOMID_SELF, Xen's loopback). The domain
// sees no other domain: any other id is -ESRCH.
import {
  BACKEND_DOMID, DOMID_SELF, EEXIST, EINVAL, ENOENT, ENOSPC, EPERM, ESRCH, GUEST_DOMID, MAX_VCPUS, NR_EVENT_CHANNELS, NR_VIRQS,
  PER_VCPU_VIRQS, SHARED_INFO,
} from './abi.js';
import type { PhysicalMemory } from '@ringvisor/mmu';

/** What the channels need of a domain: its shared_info page and its counters. */
export interface EventHost {
  readonly memory: PhysicalMemory;
  readonly sharedInfoBase: number;
  /** The domain's max_vcpus: vCPU IDs below it exist (brought up or not). */
  readonly maxVcpus: number;
  /** Machine address of vCPU `vcpu`'s vcpu_info (in shared_info unless the guest moved it). */
  vcpuInfo(vcpu: number): number;
  count(name: string, n?: number): void;
  /**
   * A port of `vcpu` became pending (`kicked`: its upcall_pending went from 0 to 1, Xen's
   * vcpu_kick): what wakes that vCPU blocked in SCHEDOP_poll (Xen's evtchn_check_pollers).
   */
  eventRaised?(port: number, kicked: boolean, vcpu: number): void;
}

/** Where shared_info keeps the event state, and how many ports its bitmaps hold. */
export interface EventLayout {
  readonly pending: number;
  readonly mask: number;
  /** vcpu_info offsets. */
  readonly pendingSel: number;
  readonly upcallPending: number;
  /** Bits of one pending word (one selector bit each): xen_ulong_t. */
  readonly wordBits: number;
  readonly ports: number;
}

/** x86-32: 32-bit words, 1024 ports. */
export const EVENT_LAYOUT_32: EventLayout = {
  pending: SHARED_INFO.evtchnPending, mask: SHARED_INFO.evtchnMask, pendingSel: SHARED_INFO.pendingSel,
  upcallPending: SHARED_INFO.upcallPending, wordBits: 32, ports: NR_EVENT_CHANNELS,
};

const FREE = 0;
const RESERVED = 1;
const UNBOUND = 2;
const VIRQ = 3;
/** Connected to a back end of this hypervisor. */
const BACKEND = 4;
/** Connected to another port of this domain. */
const LOOPBACK = 5;
/** An inter-processor port of a vCPU (bind_ipi): a send raises it on the same domain. */
const IPI = 6;
/** Xen allocates a domain's ports in buckets; any port of an allocated bucket is valid to poll. */
const PORTS_PER_BUCKET = 64;
const perVcpuVirq = (virq: number) => PER_VCPU_VIRQS.includes(virq);

export type BackendHandler = () => void;

export class EventChannels {
  private readonly state: Uint8Array;
  /** A VIRQ port's slot in `virqPort` (vcpu * NR_VIRQS + virq). */
  private readonly virqOf: Int16Array;
  /** Per vCPU and VIRQ, its port (0: none); a domain-wide VIRQ is vCPU 0's. */
  private readonly virqPort = new Int32Array(MAX_VCPUS * NR_VIRQS).fill(0);
  /** The vCPU each port notifies (Xen's notify_vcpu_id). */
  private readonly notify: Uint8Array;
  private readonly handlers = new Map<number, BackendHandler>();
  /** An unbound port's remote domain; a loopback port's peer. */
  private readonly remote: Uint16Array;
  /** Ports below this are valid (Xen's valid_evtchns: the buckets allocated so far, the first at creation). */
  private validPorts = PORTS_PER_BUCKET;
  constructor(private readonly domain: EventHost, private readonly layout: EventLayout = EVENT_LAYOUT_32) {
    this.state = new Uint8Array(layout.ports);
    this.virqOf = new Int16Array(layout.ports).fill(-1);
    this.remote = new Uint16Array(layout.ports);
    this.notify = new Uint8Array(layout.ports);
    this.state[0] = RESERVED;
  }

  private freePort(): number {
    for (let port = 1; port < this.layout.ports; port++) {
      if (this.state[port] !== FREE) continue;
      this.notify[port] = 0;
      this.validPorts = Math.max(this.validPorts, (Math.floor(port / PORTS_PER_BUCKET) + 1) * PORTS_PER_BUCKET);
      return port;
    }
    return -1;
  }

  /** Xen's evtchn_port_poll: 1 when `port` is pending, 0 when not, -EINVAL past the allocated buckets. */
  pollPort(port: number): number {
    if (!Number.isInteger(port) || port < 0 || port >= Math.min(this.validPorts, this.layout.ports)) return EINVAL;
    return this.testBit(this.layout.pending, port) ? 1 : 0;
  }

  /** A port connected to a back end from the start (console and xenstore, as the builder sets up). */
  allocateBackend(handler: BackendHandler): number {
    const port = this.freePort();
    if (port < 0) throw new Error('no free event channel for a back end');
    this.state[port] = BACKEND;
    this.handlers.set(port, handler);
    return port;
  }

  /** A back end connects to a port the guest allocated for it (alloc_unbound, remote domain 0). */
  connectBackend(port: number, handler: BackendHandler): boolean {
    if (!Number.isInteger(port) || port <= 0 || port >= this.layout.ports || this.state[port] !== UNBOUND) return false;
    // Domain 0's bind_interdomain: only a port left for domain 0.
    if (this.remote[port] !== BACKEND_DOMID) return false;
    this.state[port] = BACKEND;
    this.handlers.set(port, handler);
    return true;
  }

  private hasVcpu(vcpu: number): boolean {
    return Number.isInteger(vcpu) && vcpu >= 0 && vcpu < this.domain.maxVcpus;
  }

  /** Xen's evtchn_bind_virq: a domain-wide VIRQ binds on vCPU 0 only (-EINVAL), a vCPU past max_vcpus is -ENOENT. */
  bindVirq(virq: number, vcpu: number): number {
    if (virq >= NR_VIRQS) return EINVAL;
    if (!perVcpuVirq(virq) && vcpu !== 0) return EINVAL;
    if (!this.hasVcpu(vcpu)) return ENOENT;
    const slot = vcpu * NR_VIRQS + virq;
    if (this.virqPort[slot] !== 0) return EEXIST;
    const port = this.freePort();
    if (port < 0) return ENOSPC;
    this.state[port] = VIRQ;
    this.virqOf[port] = slot;
    this.virqPort[slot] = port;
    this.notify[port] = vcpu;
    return port;
  }

  /** bind_ipi: a port whose send raises it on vCPU `vcpu` of this domain. */
  bindIpi(vcpu: number): number {
    if (!this.hasVcpu(vcpu)) return ENOENT;
    const port = this.freePort();
    if (port < 0) return ENOSPC;
    this.state[port] = IPI;
    this.notify[port] = vcpu;
    return port;
  }

  /**
   * EVTCHNOP_bind_vcpu (Xen's evtchn_bind_vcpu): later events of `port` go to `vcpu`. Only an
   * unbound or connected port, or a domain-wide VIRQ's, may move; a vCPU's own VIRQ or IPI may not.
   */
  bindVcpu(port: number, vcpu: number): number {
    if (!this.hasVcpu(vcpu)) return ENOENT;
    if (!this.valid(port)) return EINVAL;
    switch (this.state[port]) {
      case VIRQ:
        if (perVcpuVirq(this.virqOf[port] % NR_VIRQS)) return EINVAL;
        break;
      case UNBOUND: case BACKEND: case LOOPBACK:
        break;
      default:
        return EINVAL;
    }
    this.notify[port] = vcpu;
    return 0;
  }

  allocUnbound(dom: number, remote: number): number {
    if (dom !== DOMID_SELF && dom !== GUEST_DOMID) return EPERM;
    // As in Xen, the remote domain is only recorded: it is checked when that domain binds.
    const port = this.freePort();
    if (port < 0) return ENOSPC;
    this.state[port] = UNBOUND;
    this.remote[port] = remote === DOMID_SELF ? GUEST_DOMID : remote;
    return port;
  }

  /**
   * bind_interdomain: a new port connected to `remotePort` of domain `remoteDom`, which must be
   * unbound and left for this domain. Domain 0's back ends leave it none; only loopback binds.
   */
  bindInterdomain(remoteDom: number, remotePort: number): number {
    const dom = remoteDom === DOMID_SELF ? GUEST_DOMID : remoteDom;
    if (dom !== GUEST_DOMID && dom !== BACKEND_DOMID) return ESRCH;
    const port = this.freePort();
    if (port < 0) return ENOSPC;
    if (dom !== GUEST_DOMID || !this.valid(remotePort)) return EINVAL;
    if (this.state[remotePort] !== UNBOUND || this.remote[remotePort] !== GUEST_DOMID) return EINVAL;
    this.state[port] = LOOPBACK;
    this.state[remotePort] = LOOPBACK;
    this.remote[port] = remotePort;
    this.remote[remotePort] = port;
    return port;
  }

  private valid(port: number): boolean {
    return Number.isInteger(port) && port >= 0 && port < this.layout.ports && this.state[port] !== FREE;
  }

  close(port: number): number {
    if (!this.valid(port)) return EINVAL;
    if (this.state[port] === RESERVED) return EINVAL;
    if (this.state[port] === VIRQ) this.virqPort[this.virqOf[port]] = 0;
    if (this.state[port] === LOOPBACK) {
      // The other end stays, unbound and left for this domain again (Xen's evtchn_close).
      this.state[this.remote[port]] = UNBOUND;
      this.remote[this.remote[port]] = GUEST_DOMID;
    }
    this.virqOf[port] = -1;
    this.handlers.delete(port);
    this.state[port] = FREE;
    this.clearBit(this.layout.pending, port);
    return 0;
  }

  /** EVTCHNOP_send from the guest: the back end on the other side runs. */
  send(port: number): number {
    if (!this.valid(port)) return EINVAL;
    const state = this.state[port];
    if (state === BACKEND) {
      this.domain.count('events sent');
      this.handlers.get(port)!();
      return 0;
    }
    if (state === LOOPBACK) {
      this.setPending(this.remote[port]);
      return 0;
    }
    if (state === IPI) {
      this.setPending(port);
      return 0;
    }
    // Nobody is listening yet: Xen drops the notification silently.
    if (state === UNBOUND) return 0;
    return EINVAL;
  }

  unmask(port: number): number {
    if (!this.valid(port)) return EINVAL;
    this.clearBit(this.layout.mask, port);
    if (this.testBit(this.layout.pending, port) && this.raiseSelector(port)) this.domain.eventRaised?.(port, true, this.notify[port]);
    return 0;
  }

  /** A VIRQ fires (vCPU `vcpu`'s VIRQ_TIMER, or a domain-wide one): its port becomes pending, if bound. */
  raiseVirq(virq: number, vcpu = 0): void {
    const port = this.virqPort[(perVcpuVirq(virq) ? vcpu : 0) * NR_VIRQS + virq];
    if (port !== 0) this.setPending(port);
  }

  /** evtchn_set_pending: the bit, then (unless masked) the selector and the upcall. */
  setPending(port: number): void {
    if (this.testBit(this.layout.pending, port)) return;
    this.setBit(this.layout.pending, port);
    const kicked = !this.testBit(this.layout.mask, port) && this.raiseSelector(port);
    this.domain.eventRaised?.(port, kicked, this.notify[port]);
  }

  /** Sets the port's selector bit and upcall_pending in its vCPU's vcpu_info; true when upcall_pending was 0 (a kick). */
  private raiseSelector(port: number): boolean {
    const memory = this.domain.memory;
    const base = this.domain.vcpuInfo(this.notify[port]);
    // The selector bit of the port's word: a little-endian bitmap, so bytes serve any word size.
    const bit = Math.floor(port / this.layout.wordBits);
    const at = base + this.layout.pendingSel + (bit >>> 3);
    const sel = memory.read8(at);
    if ((sel & (1 << (bit & 7))) !== 0) return false;
    memory.write8(at, sel | (1 << (bit & 7)));
    const kicked = memory.read8(base + this.layout.upcallPending) === 0;
    memory.write8(base + this.layout.upcallPending, 1);
    return kicked;
  }

  private testBit(array: number, port: number): boolean {
    const at = this.domain.sharedInfoBase + array + (port >>> 3);
    return ((this.domain.memory.read8(at) >>> (port & 7)) & 1) !== 0;
  }

  private setBit(array: number, port: number): void {
    const at = this.domain.sharedInfoBase + array + (port >>> 3);
    this.domain.memory.write8(at, this.domain.memory.read8(at) | (1 << (port & 7)));
  }

  private clearBit(array: number, port: number): void {
    const at = this.domain.sharedInfoBase + array + (port >>> 3);
    this.domain.memory.write8(at, this.domain.memory.read8(at) & ~(1 << (port & 7)));
  }
}
