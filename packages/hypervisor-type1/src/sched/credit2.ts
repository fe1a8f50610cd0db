// The vCPU scheduler, in the manner of Xen's credit2 (see the README for where it differs). Pure:
// the caller tells it what happened (a slice ended, a vCPU woke) with the time, and asks what a pCPU
// runs next and for how long. Credit is nanoseconds of run time at the highest weight present.

export interface Credit2Options {
  readonly pcpus: number;
  /** Longest slice (credit2's CSCHED2_MAX_TIMER: 10 ms). */
  readonly maxSliceNs?: number;
  /** Shortest slice (CSCHED2_MIN_TIMER: 0.5 ms). */
  readonly minSliceNs?: number;
  /** A running vCPU is not preempted by a waking one before it ran this long (ratelimit: 1 ms). */
  readonly ratelimitNs?: number;
  /** The credit every vCPU gets back at a reset (CSCHED2_CREDIT_INIT: 10 ms). */
  readonly creditInitNs?: number;
  /** Caps are budgets per period of this length (10 ms). */
  readonly capPeriodNs?: number;
  /**
   * Credit a vCPU that last ran on another pCPU must lead by to be taken here (credit2's
   * migrate_resist, 0.5 ms there). Moving a vCPU costs this hypervisor a VM rebuild, so 1 ms.
   */
  readonly migrateResistNs?: number;
}

export interface VcpuParams {
  readonly id: number;
  readonly domain: number;
  readonly weight: number;
  /** Domain cap in percent of one pCPU (0: none). */
  readonly cap: number;
  readonly affinity: readonly number[];
  /** Starts blocked (a vCPU that is down until its guest brings it up, as Xen's offline vCPUs). */
  readonly blocked?: boolean;
}

export type VcpuRunState = 'runnable' | 'running' | 'blocked' | 'paused';

/** What a pCPU should do next. */
export type Pick =
  | { readonly kind: 'run'; readonly vcpu: number; readonly sliceNs: number }
  /** Nothing to run: sleep until `until` (a cap period ends) or, at Infinity, until woken. */
  | { readonly kind: 'idle'; readonly until: number };

/** A pCPU to kick after a wake-up: an idle one to fill, or a running one to preempt. */
export interface Tickle {
  readonly pcpu: number;
  readonly preempt: boolean;
}

interface SchedVcpu {
  readonly id: number;
  readonly domain: number;
  affinity: Set<number>;
  state: VcpuRunState;
  credit: number;
  runningOn: number;
  runStart: number;
  lastPcpu: number;
  /** Run time in all (ns), for `vcpu-list` and the shares. */
  time: number;
  /** Run time of the current slice already burned by a reset (ns). */
  burned: number;
}

interface SchedDomain {
  weight: number;
  cap: number;
  /** Run time the cap still allows in this period (ns); below 0 after an overrun. */
  budget: number;
  periodStart: number;
}

export class Credit2Scheduler {
  readonly pcpus: number;
  readonly maxSliceNs: number;
  readonly minSliceNs: number;
  readonly ratelimitNs: number;
  readonly creditInitNs: number;
  readonly capPeriodNs: number;
  readonly migrateResistNs: number;
  private readonly vcpus = new Map<number, SchedVcpu>();
  private readonly domains = new Map<number, SchedDomain>();
  private readonly running: number[];
  /** Credit resets so far (tests and statistics). */
  resets = 0;

  constructor(options: Credit2Options) {
    if (!Number.isInteger(options.pcpus) || options.pcpus < 1) throw new RangeError(`pcpus ${options.pcpus}`);
    this.pcpus = options.pcpus;
    this.maxSliceNs = options.maxSliceNs ?? 10e6;
    this.ratelimitNs = options.ratelimitNs ?? 1e6;
    // As in credit2, no slice is shorter than the rate limit.
    this.minSliceNs = Math.min(Math.max(options.minSliceNs ?? 0.5e6, this.ratelimitNs), this.maxSliceNs);
    this.creditInitNs = options.creditInitNs ?? 10e6;
    this.capPeriodNs = options.capPeriodNs ?? 10e6;
    this.migrateResistNs = options.migrateResistNs ?? 1e6;
    this.running = new Array<number>(this.pcpus).fill(-1);
  }

  /** Adds a runnable vCPU with full credit; its domain takes `weight` and `cap` (shared by its vCPUs). */
  add(params: VcpuParams, now: number): void {
    if (this.vcpus.has(params.id)) throw new Error(`vCPU ${params.id} is already scheduled`);
    this.setDomain(params.domain, params.weight, params.cap, now);
    this.vcpus.set(params.id, {
      id: params.id, domain: params.domain, affinity: this.affinitySet(params.affinity), state: params.blocked === true ? 'blocked' : 'runnable',
      credit: this.creditInitNs, runningOn: -1, runStart: 0, lastPcpu: -1, time: 0, burned: 0,
    });
  }

  /** Removes a vCPU that is not running (the caller waits for its slice to end first). */
  remove(id: number): void {
    const v = this.vcpu(id);
    if (v.state === 'running') throw new Error(`vCPU ${id} is running on pCPU ${v.runningOn}`);
    this.vcpus.delete(id);
    if (![...this.vcpus.values()].some((other) => other.domain === v.domain)) this.domains.delete(v.domain);
  }

  setDomain(domain: number, weight: number, cap: number, now: number): void {
    if (!Number.isInteger(weight) || weight < 1 || weight > 65535) throw new RangeError(`weight ${weight} is not 1..65535`);
    if (!Number.isFinite(cap) || cap < 0) throw new RangeError(`cap ${cap} is not a percentage`);
    const existing = this.domains.get(domain);
    if (existing) {
      existing.weight = weight;
      existing.cap = cap;
      existing.budget = Math.min(existing.budget, this.capBudget(cap));
    } else {
      this.domains.set(domain, { weight, cap, budget: this.capBudget(cap), periodStart: now });
    }
  }

  domainParams(domain: number): { weight: number; cap: number } | undefined {
    const d = this.domains.get(domain);
    return d ? { weight: d.weight, cap: d.cap } : undefined;
  }

  setAffinity(id: number, pcpus: readonly number[]): void {
    this.vcpu(id).affinity = this.affinitySet(pcpus);
  }

  affinity(id: number): number[] {
    return [...this.vcpu(id).affinity].sort((a, b) => a - b);
  }

  state(id: number): VcpuRunState {
    return this.vcpu(id).state;
  }

  /** Total run time of a vCPU in ns. */
  time(id: number): number {
    return this.vcpu(id).time;
  }

  credit(id: number): number {
    return this.vcpu(id).credit;
  }

  /** The vCPU on `pcpu`, or -1. */
  current(pcpu: number): number {
    return this.running[pcpu];
  }

  /**
   * What `pcpu` runs next. The runnable vCPU allowed there with the most credit wins (ties: the
   * one that last ran here, then the lowest id); when even the best has no credit left, every vCPU
   * gets credit back (credit2's reset), so the scheduler stays work conserving. A vCPU of a domain
   * whose cap budget is spent waits for the next period.
   */
  pick(pcpu: number, now: number): Pick {
    if (this.running[pcpu] !== -1) throw new Error(`pCPU ${pcpu} still runs vCPU ${this.running[pcpu]}`);
    const found = this.scan(pcpu, now);
    let { best, second } = found;
    if (best === null) return { kind: 'idle', until: found.capWait };
    if (best.credit <= 0) {
      this.reset(best.credit, now);
      ({ best, second } = this.scan(pcpu, now));
      if (best === null) return { kind: 'idle', until: found.capWait };
    }
    const d = this.domains.get(best.domain)!;
    let slice = this.maxSliceNs;
    if (second !== -Infinity) {
      // Run until this vCPU's credit falls to the next one's (credit burns faster at lower weight).
      const lead = this.rank(best, pcpu) - second;
      slice = Math.max(this.minSliceNs, Math.min(this.maxSliceNs, (lead * d.weight) / this.maxWeight()));
    }
    if (d.cap > 0) slice = Math.max(1, Math.min(slice, d.budget));
    best.state = 'running';
    best.runningOn = pcpu;
    best.runStart = now;
    best.lastPcpu = pcpu;
    this.running[pcpu] = best.id;
    return { kind: 'run', vcpu: best.id, sliceNs: Math.round(slice) };
  }

  /**
   * The slice of the vCPU on `pcpu` ended after `ranNs` of run time: its credit burns inversely to
   * its weight and its domain's cap budget by the time itself. `next` is what it does now.
   */
  descheduled(pcpu: number, ranNs: number, now: number, next: 'runnable' | 'blocked' | 'paused'): void {
    const id = this.running[pcpu];
    if (id === -1) throw new Error(`pCPU ${pcpu} runs nothing`);
    const v = this.vcpu(id);
    const ran = Math.max(0, ranNs);
    const d = this.domainOf(v, now);
    v.credit -= (Math.max(0, ran - v.burned) * this.maxWeight()) / d.weight;
    v.burned = 0;
    v.time += ran;
    if (d.cap > 0) d.budget -= ran;
    v.state = next;
    v.runningOn = -1;
    this.running[pcpu] = -1;
  }

  /**
   * A blocked or paused vCPU became runnable. Returns the pCPU to kick: an idle pCPU it may run on
   * (the one it last ran on first), else the running pCPU whose vCPU has the least credit, to be
   * preempted when the woken one has more and the other ran at least the rate limit; else null.
   */
  wake(id: number, now: number): Tickle | null {
    const v = this.vcpu(id);
    if (v.state === 'running' || v.state === 'runnable') return null;
    v.state = 'runnable';
    return this.tickleFor(v, now);
  }

  /** A runnable vCPU is paused by the administrator (a running one pauses when its slice ends). */
  pause(id: number): void {
    const v = this.vcpu(id);
    if (v.state === 'runnable' || v.state === 'blocked') v.state = 'paused';
  }

  private tickleFor(v: SchedVcpu, now: number): Tickle | null {
    const allowed = [...v.affinity].sort((a, b) => (a === v.lastPcpu ? -1 : b === v.lastPcpu ? 1 : a - b));
    const idle = allowed.find((p) => this.running[p] === -1);
    if (idle !== undefined) return { pcpu: idle, preempt: false };
    let victim: SchedVcpu | null = null;
    for (const p of allowed) {
      const other = this.vcpus.get(this.running[p])!;
      if (victim === null || other.credit < victim.credit) victim = other;
    }
    if (victim === null || victim.credit >= v.credit || now - victim.runStart < this.ratelimitNs) return null;
    return { pcpu: victim.runningOn, preempt: true };
  }

  /** The best runnable vCPU for `pcpu`, the next-best credit, and when a capped one may run again. */
  private scan(pcpu: number, now: number): { best: SchedVcpu | null; second: number; capWait: number } {
    let best: SchedVcpu | null = null;
    let second = -Infinity;
    let capWait = Infinity;
    for (const v of this.vcpus.values()) {
      if (v.state !== 'runnable' || !v.affinity.has(pcpu)) continue;
      const d = this.domainOf(v, now);
      if (d.cap > 0 && d.budget <= 0) {
        capWait = Math.min(capWait, d.periodStart + this.capPeriodNs);
        continue;
      }
      if (best === null || this.better(v, best, pcpu)) {
        if (best) second = Math.max(second, this.rank(best, pcpu));
        best = v;
      } else {
        second = Math.max(second, this.rank(v, pcpu));
      }
    }
    return { best, second, capWait };
  }

  /** Credit as `pcpu` ranks it: a vCPU from another pCPU counts the migration resistance less. */
  private rank(v: SchedVcpu, pcpu: number): number {
    return v.lastPcpu === -1 || v.lastPcpu === pcpu ? v.credit : v.credit - this.migrateResistNs;
  }

  private better(a: SchedVcpu, b: SchedVcpu, pcpu: number): boolean {
    const ra = this.rank(a, pcpu);
    const rb = this.rank(b, pcpu);
    if (ra !== rb) return ra > rb;
    if ((a.lastPcpu === pcpu) !== (b.lastPcpu === pcpu)) return a.lastPcpu === pcpu;
    return a.id < b.id;
  }

  /**
   * Credit2's reset: running vCPUs burn what they ran so far, then everyone gets CREDIT_INIT
   * (enough times over to lift the best above 0), clipped to CREDIT_INIT plus a carry-over of one
   * minimum slice so that a lead earned by weight survives the reset.
   */
  private reset(bestCredit: number, now: number): void {
    const maxWeight = this.maxWeight();
    for (const v of this.vcpus.values()) {
      if (v.state !== 'running') continue;
      const due = Math.max(0, now - v.runStart - v.burned);
      v.credit -= (due * maxWeight) / this.domains.get(v.domain)!.weight;
      v.burned += due;
    }
    const times = 1 + Math.floor(-bestCredit / this.creditInitNs);
    const clip = this.creditInitNs + this.minSliceNs;
    for (const v of this.vcpus.values()) v.credit = Math.min(clip, v.credit + times * this.creditInitNs);
    this.resets++;
  }

  private maxWeight(): number {
    let max = 1;
    for (const d of this.domains.values()) max = Math.max(max, d.weight);
    return max;
  }

  /** The vCPU's domain with its cap budget brought up to the current period. */
  private domainOf(v: SchedVcpu, now: number): SchedDomain {
    const d = this.domains.get(v.domain)!;
    if (d.cap > 0 && now >= d.periodStart + this.capPeriodNs) {
      const periods = Math.floor((now - d.periodStart) / this.capPeriodNs);
      const full = this.capBudget(d.cap);
      d.budget = Math.min(full, d.budget + periods * full);
      d.periodStart += periods * this.capPeriodNs;
    }
    return d;
  }

  private capBudget(cap: number): number {
    return (cap / 100) * this.capPeriodNs;
  }

  private affinitySet(pcpus: readonly number[]): Set<number> {
    const set = new Set<number>();
    for (const p of pcpus) {
      if (!Number.isInteger(p) || p < 0 || p >= this.pcpus) throw new RangeError(`pCPU ${p} does not exist (0..${this.pcpus - 1})`);
      set.add(p);
    }
    if (set.size === 0) throw new RangeError('a vCPU needs at least one pCPU it may run on');
    return set;
  }

  private vcpu(id: number): SchedVcpu {
    const v = this.vcpus.get(id);
    if (!v) throw new Error(`no vCPU ${id}`);
    return v;
  }
}
