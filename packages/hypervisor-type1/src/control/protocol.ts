// The control socket's protocol (what `ringvisor xl` speaks): one JSON request per line, one JSON
// response per line. After a successful `console` response the connection carries the domain's
// console bytes both ways until either side closes it.
import type { DomainInfo, HostInfo, VcpuInfo } from '../hypervisor.js';
import type { LifecycleAction } from '../platform/schema.js';

export type ControlRequest =
  | { readonly cmd: 'list' }
  | { readonly cmd: 'vcpu-list' }
  | { readonly cmd: 'info' }
  /** `text` is an xl create file (one domain as JSON); `source` names it in errors. */
  | { readonly cmd: 'create'; readonly text: string; readonly source: string }
  | { readonly cmd: 'destroy' | 'pause' | 'unpause' | 'console'; readonly domain: string }
  /**
   * Asks the guest to shut down (its ACPI power button, or xenstore control/shutdown for a para
   * domain: the answer's `via`); with `wait`, answers once the domain has stopped (xl shutdown -w).
   * With `all` instead of a domain (xl shutdown -a): every domain that has not ended, in ID order,
   * one ShutdownResult each.
   */
  | { readonly cmd: 'shutdown'; readonly domain?: string; readonly all?: boolean; readonly wait?: boolean }
  /**
   * Asks the guest to reboot: "reboot" in a para domain's xenstore control/shutdown; a full or
   * hw:vmx domain has no PV control interface and is refused unless `force` (xl reboot -F), which
   * resets it. With `wait`, answers once on_reboot (or whatever its end) was carried out. With
   * `all` (xl reboot -a) every domain that has not ended, in ID order; as xl, the first refusal
   * ends the command, and the error names the domains asked before it and those not asked.
   */
  | { readonly cmd: 'reboot'; readonly domain?: string; readonly all?: boolean; readonly wait?: boolean; readonly force?: boolean }
  /** xl vcpu-set: how many of a para domain's vCPUs stay online. */
  | { readonly cmd: 'vcpu-set'; readonly domain: string; readonly count: number }
  /** `cpus`: "all", or a list like "0,2-3". */
  | { readonly cmd: 'vcpu-pin'; readonly domain: string; readonly vcpu: string; readonly cpus: string }
  /** Without weight and cap: report; without domain: every domain. */
  | { readonly cmd: 'sched-credit2'; readonly domain?: string; readonly weight?: number; readonly cap?: number };

export interface SchedRow { readonly name: string; readonly id: number; readonly weight: number; readonly cap: number }

/**
 * How xl shutdown or reboot asked the guest: its ACPI power button, its xenstore control/shutdown
 * ("poweroff" or "reboot"), or not at all (xl reboot -F's reset).
 */
export type ShutdownVia = 'power-button' | 'control/shutdown' | 'reset';

/** What `shutdown` and `reboot` answer: how the guest was asked, and with `wait` what became of it (EndOutcome). */
export interface ShutdownResult {
  readonly id: number;
  readonly name: string;
  readonly via?: ShutdownVia;
  /** Why it stopped, the action taken, and the ID a restart gave it (or why the restart failed). */
  readonly end?: string;
  readonly action?: LifecycleAction;
  readonly restartedAs?: number;
  readonly restartError?: string;
}

export type ControlResult = DomainInfo[] | VcpuInfo[] | SchedRow[] | HostInfo | ShutdownResult | ShutdownResult[] | null;

export type ControlResponse =
  | { readonly ok: true; readonly result: ControlResult }
  | { readonly ok: false; readonly error: string };

/** Parses an xl CPU list: "all", "3", "0,2-3". */
export function parseCpuList(text: string, pcpus: number): number[] {
  if (text === 'all') return Array.from({ length: pcpus }, (_, i) => i);
  const cpus = new Set<number>();
  for (const part of text.split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!m) throw new Error(`'${text}' is not a CPU list ("all", "N", "N-M", comma separated)`);
    const from = Number(m[1]);
    const to = m[2] === undefined ? from : Number(m[2]);
    if (to < from || to >= pcpus) throw new Error(`CPU list '${text}': the pCPUs are 0..${pcpus - 1}`);
    for (let c = from; c <= to; c++) cpus.add(c);
  }
  return [...cpus].sort((a, b) => a - b);
}
