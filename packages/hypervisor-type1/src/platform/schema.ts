// The platform file: what the type-1 hypervisor owns (pCPUs, the RAM pool, the physical disk) and
// the domains it partitions them into. The JSON shape is documented in the package README; these are
// the validated, defaulted values `parsePlatform` returns.

/** Strategies a domain may run under. `none` is refused: a type-1 hypervisor virtualizes. */
export const DOMAIN_STRATEGIES = ['full', 'para', 'hw:vmx'] as const;
export type DomainStrategy = (typeof DOMAIN_STRATEGIES)[number];

/** What a domain boots. */
export type DomainBoot =
  /** The compute guest built into this package (an endless loop counting its work in RAM). */
  | { readonly kind: 'compute' }
  /** A bundled guest from @ringvisor/guests, by name. */
  | { readonly kind: 'guest'; readonly name: string }
  /** A raw binary loaded and entered at `address` (real mode below 1 MiB, 32-bit protected mode above). */
  | { readonly kind: 'flat'; readonly file: string; readonly address: number }
  /** A Linux kernel (bzImage or vmlinux) with an optional initrd and command line. */
  | { readonly kind: 'linux'; readonly kernel: string; readonly initrd?: string; readonly cmdline: string }
  /** A kernel for Xen's PV ABI (x86-32 ELF; x86-64 ELF or bzImage), with an optional initrd (strategy para only). */
  | { readonly kind: 'pv'; readonly kernel: string; readonly initrd?: string; readonly cmdline: string };

/**
 * How a domain ended, as Xen's shutdown reasons: the guest powered off (ACPI S5, the exit port,
 * sched_op poweroff), asked for a reboot (a board reset, sched_op reboot, `xl reboot -F`'s reset),
 * crashed (a triple fault, an unhandled exception, HLT with interrupts off, SHUTDOWN_crash), or a
 * para domain's watchdog (SCHEDOP_watchdog) expired (SHUTDOWN_watchdog).
 */
export const DOMAIN_ENDS = ['poweroff', 'reboot', 'crash', 'watchdog'] as const;
export type DomainEnd = (typeof DOMAIN_ENDS)[number];

/**
 * What the hypervisor does with a domain that ended (xl.cfg's on_poweroff, on_reboot, on_crash,
 * on_watchdog):
 * free it, rebuild it from its config (same name, a new domain ID), or keep it in the list with its
 * frames until `xl destroy`.
 */
export const LIFECYCLE_ACTIONS = ['destroy', 'restart', 'preserve'] as const;
export type LifecycleAction = (typeof LIFECYCLE_ACTIONS)[number];

/** A domain's action for each way it can end. */
export type LifecycleActions = Readonly<Record<DomainEnd, LifecycleAction>>;

/**
 * A domain's virtual disk: a byte range of the platform's physical disk, or a file of its own;
 * `readOnly` (xl's `access=ro`) offers it read-only, so other domains may share it read-only too.
 */
export type DomainDisk =
  | { readonly kind: 'slice'; readonly offset: number; readonly size: number; readonly readOnly: boolean }
  | { readonly kind: 'file'; readonly path: string; readonly readOnly: boolean };

export interface DomainConfig {
  readonly name: string;
  readonly strategy: DomainStrategy;
  /** Guest RAM in MiB. */
  readonly memoryMiB: number;
  readonly vcpus: number;
  /** Credit2 weight, 1..65535 (256 by default). */
  readonly weight: number;
  /** Upper bound in percent of one pCPU per vCPU count (0: uncapped). */
  readonly cap: number;
  /** pCPUs the domain's vCPUs may run on (hard affinity). */
  readonly affinity: readonly number[];
  readonly boot: DomainBoot;
  readonly disk?: DomainDisk;
  readonly autostart: boolean;
  /** on_poweroff, on_reboot, on_crash, on_watchdog (xl's defaults: destroy, restart, destroy, destroy). */
  readonly on: LifecycleActions;
}

export interface SchedulerConfig {
  /** Longest run of a vCPU before the scheduler decides again (credit2: 10 ms). */
  readonly maxSliceUs: number;
  /** Shortest run before a vCPU can be preempted by a waking one (credit2's ratelimit: 1 ms). */
  readonly ratelimitUs: number;
}

export interface PlatformConfig {
  readonly pcpus: number;
  /** The physical RAM pool in MiB. */
  readonly memoryMiB: number;
  /** The physical disk image the domains' `slice` disks are cut from. */
  readonly disk?: string;
  /** Path of the control socket `ringvisor xl` talks to. */
  readonly control?: string;
  readonly scheduler: SchedulerConfig;
  readonly domains: readonly DomainConfig[];
}
