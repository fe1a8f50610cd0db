// Validation of platform and domain files: every bad field gets its own line naming the field's
// path, what it must be and what it was; nothing is half-accepted.
import { GUESTS } from '@ringvisor/guests';
import {
  DOMAIN_ENDS, DOMAIN_STRATEGIES, LIFECYCLE_ACTIONS, type DomainBoot, type DomainConfig, type DomainDisk, type DomainStrategy, type LifecycleAction,
  type LifecycleActions, type PlatformConfig, type SchedulerConfig,
} from './schema.js';

export const MAX_PCPUS = 64;
/** The pool is one SharedArrayBuffer below 4 GiB of guest-physical space per domain. */
export const MAX_POOL_MIB = 8192;
export const MAX_DOMAIN_MIB = 3072;
export const DEFAULT_WEIGHT = 256;
/** vcpu_info slots in a PV domain's shared_info (XEN_LEGACY_MAX_VCPUS). */
const MAX_VCPUS = 32;
const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

/** A platform or domain file that cannot be used; `problems` has one line per bad field. */
export class PlatformError extends Error {
  constructor(readonly source: string, readonly problems: readonly string[]) {
    super(`${source}: ${problems.length === 1 ? problems[0] : `${problems.length} problems:\n  ${problems.join('\n  ')}`}`);
    this.name = 'PlatformError';
  }
}

type Json = unknown;

function show(value: Json): string {
  const text = JSON.stringify(value);
  return text === undefined ? String(value) : text.length > 40 ? `${text.slice(0, 37)}...` : text;
}

function isObject(value: Json): value is Record<string, Json> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Collects problems while reading one JSON object's fields. */
class Reader {
  constructor(readonly problems: string[]) {}

  bad(path: string, must: string, value: Json): void {
    this.problems.push(`${path}: must be ${must} (got ${show(value)})`);
  }

  unknownKeys(path: string, object: Record<string, Json>, known: readonly string[]): void {
    for (const key of Object.keys(object)) {
      if (!known.includes(key)) this.problems.push(`${path}${path ? '.' : ''}${key}: unknown field (known: ${known.join(', ')})`);
    }
  }

  integer(path: string, value: Json, min: number, max: number, fallback?: number): number {
    if (value === undefined && fallback !== undefined) return fallback;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
      this.bad(path, `an integer from ${min} to ${max}`, value);
      return fallback ?? min;
    }
    return value;
  }

  string(path: string, value: Json, optional = false): string | undefined {
    if (value === undefined && optional) return undefined;
    if (typeof value !== 'string' || value.length === 0) {
      this.bad(path, 'a non-empty string', value);
      return undefined;
    }
    return value;
  }

  boolean(path: string, value: Json, fallback: boolean): boolean {
    if (value === undefined) return fallback;
    if (typeof value !== 'boolean') {
      this.bad(path, 'true or false', value);
      return fallback;
    }
    return value;
  }
}

const DOMAIN_KEYS = [
  'name', 'strategy', 'memory', 'vcpus', 'weight', 'cap', 'affinity', 'boot', 'disk', 'autostart', 'on_poweroff', 'on_reboot', 'on_crash',
  'on_watchdog',
] as const;
/** xl's defaults for on_poweroff, on_reboot, on_crash and on_watchdog (xl.cfg(5)). */
export const DEFAULT_ACTIONS: LifecycleActions = { poweroff: 'destroy', reboot: 'restart', crash: 'destroy', watchdog: 'destroy' };
/** xl.cfg actions this hypervisor does not take, named in the error rather than called unknown. */
const XL_ACTIONS_NOT_TAKEN = ['rename-restart', 'coredump-destroy', 'coredump-restart', 'soft-reset'];
const BOOT_KEYS = ['compute', 'guest', 'flat', 'address', 'kernel', 'initrd', 'cmdline', 'pv'] as const;

function readStrategy(r: Reader, path: string, value: Json): DomainStrategy {
  if (value === 'none') {
    r.problems.push(`${path}: 'none' is refused: a type-1 hypervisor virtualizes (use ${DOMAIN_STRATEGIES.join(', ')})`);
    return 'hw:vmx';
  }
  if (typeof value !== 'string' || !(DOMAIN_STRATEGIES as readonly string[]).includes(value)) {
    r.bad(path, `one of ${DOMAIN_STRATEGIES.join(', ')}`, value);
    return 'hw:vmx';
  }
  return value as DomainStrategy;
}

function readBoot(r: Reader, path: string, value: Json, strategy: DomainStrategy): DomainBoot {
  const fallback: DomainBoot = { kind: 'compute' };
  if (!isObject(value)) {
    r.bad(path, 'an object: {"compute": true}, {"guest": NAME}, {"flat": FILE, "address": N}, {"kernel": FILE, "initrd"?, "cmdline"?} or {"pv": FILE, "initrd"?, "cmdline"?}', value);
    return fallback;
  }
  r.unknownKeys(path, value, BOOT_KEYS);
  const kinds = (['compute', 'guest', 'flat', 'kernel', 'pv'] as const).filter((k) => value[k] !== undefined);
  if (kinds.length !== 1) {
    r.problems.push(`${path}: must name exactly one of compute, guest, flat, kernel, pv (got ${kinds.length === 0 ? 'none' : kinds.join(', ')})`);
    return fallback;
  }
  const cmdline = r.string(`${path}.cmdline`, value.cmdline, true) ?? '';
  const initrd = r.string(`${path}.initrd`, value.initrd, true);
  if (initrd !== undefined && kinds[0] !== 'kernel' && kinds[0] !== 'pv') r.problems.push(`${path}.initrd: only a kernel or pv boot takes an initrd`);
  switch (kinds[0]) {
    case 'compute':
      if (value.compute !== true) r.bad(`${path}.compute`, 'true', value.compute);
      if (strategy === 'para') r.problems.push(`${path}: the compute guest is a bare-metal program; strategy para boots a {"pv": FILE} kernel`);
      return fallback;
    case 'guest': {
      const name = r.string(`${path}.guest`, value.guest);
      if (name === undefined) return fallback;
      // Own names only: `constructor` in a platform file is not a bundled guest.
      const guest = Object.hasOwn(GUESTS, name) ? (GUESTS as Record<string, { format: { kind: string } }>)[name] : undefined;
      if (!guest) {
        r.bad(`${path}.guest`, `a bundled guest (${Object.keys(GUESTS).join(', ')})`, name);
        return fallback;
      }
      if ((guest.format.kind === 'xen-pv') !== (strategy === 'para')) {
        r.problems.push(`${path}.guest: '${name}' ${guest.format.kind === 'xen-pv' ? 'needs strategy para' : 'cannot boot under strategy para (it needs a PV kernel)'}`);
      }
      if (guest.format.kind === 'firmware') r.problems.push(`${path}.guest: firmware images are not domain boot images`);
      return { kind: 'guest', name };
    }
    case 'flat': {
      const file = r.string(`${path}.flat`, value.flat) ?? '';
      const address = r.integer(`${path}.address`, value.address, 0, 0xfffff000);
      if (strategy === 'para') r.problems.push(`${path}.flat: strategy para boots a {"pv": FILE} kernel`);
      return { kind: 'flat', file, address };
    }
    case 'kernel': {
      const kernel = r.string(`${path}.kernel`, value.kernel) ?? '';
      if (strategy === 'para') r.problems.push(`${path}.kernel: strategy para boots a {"pv": FILE} kernel, not a Linux bzImage`);
      return { kind: 'linux', kernel, cmdline, ...(initrd !== undefined ? { initrd } : {}) };
    }
    default: {
      const kernel = r.string(`${path}.pv`, value.pv) ?? '';
      if (strategy !== 'para') r.problems.push(`${path}.pv: a PV kernel needs strategy para`);
      return { kind: 'pv', kernel, cmdline, ...(initrd !== undefined ? { initrd } : {}) };
    }
  }
}

function readDisk(r: Reader, path: string, value: Json): DomainDisk | undefined {
  if (value === undefined) return undefined;
  if (isObject(value) && typeof value.file === 'string') {
    r.unknownKeys(path, value, ['file', 'access']);
    return { kind: 'file', path: r.string(`${path}.file`, value.file) ?? '', readOnly: readAccess(r, path, value.access) };
  }
  if (isObject(value) && value.offset !== undefined) {
    r.unknownKeys(path, value, ['offset', 'size', 'access']);
    const offset = r.integer(`${path}.offset`, value.offset, 0, Number.MAX_SAFE_INTEGER);
    const size = r.integer(`${path}.size`, value.size, 512, Number.MAX_SAFE_INTEGER);
    if (offset % 512 !== 0) r.bad(`${path}.offset`, 'a multiple of 512', offset);
    if (size % 512 !== 0) r.bad(`${path}.size`, 'a multiple of 512', size);
    return { kind: 'slice', offset, size, readOnly: readAccess(r, path, value.access) };
  }
  r.bad(path, '{"file": PATH} or {"offset": BYTES, "size": BYTES} (a slice of the platform disk)', value);
  return undefined;
}

/** A disk's "access" (xl's disk spec): "rw" (the default) or "ro"; true for read-only. */
function readAccess(r: Reader, path: string, value: Json): boolean {
  if (value === undefined || value === 'rw') return false;
  if (value === 'ro') return true;
  r.bad(`${path}.access`, '"rw" or "ro"', value);
  return false;
}

function readActions(r: Reader, at: (key: string) => string, value: Record<string, Json>): LifecycleActions {
  const actions = { ...DEFAULT_ACTIONS };
  for (const end of DOMAIN_ENDS) {
    const key = `on_${end}`;
    const action = value[key];
    if (action === undefined) continue;
    // A list lookup, not an object's: `constructor` or `__proto__` is a bad value like any other.
    if (typeof action === 'string' && (LIFECYCLE_ACTIONS as readonly string[]).includes(action)) actions[end] = action as LifecycleAction;
    else if (typeof action === 'string' && XL_ACTIONS_NOT_TAKEN.includes(action)) r.problems.push(`${at(key)}: '${action}' is an xl action this hypervisor does not take (use ${LIFECYCLE_ACTIONS.join(', ')})`);
    else r.bad(at(key), `one of ${LIFECYCLE_ACTIONS.join(', ')}`, action);
  }
  return actions;
}

function readAffinity(r: Reader, path: string, value: Json, pcpus: number): number[] {
  const all = Array.from({ length: pcpus }, (_, i) => i);
  if (value === undefined || value === 'all') return all;
  if (!Array.isArray(value) || value.length === 0) {
    r.bad(path, `"all" or a non-empty list of pCPU numbers below ${pcpus}`, value);
    return all;
  }
  const set = new Set<number>();
  value.forEach((cpu, i) => set.add(r.integer(`${path}[${i}]`, cpu, 0, pcpus - 1)));
  return [...set].sort((a, b) => a - b);
}

/** Reads one domain (a platform's `domains[i]`, or the whole of an `xl create` file). */
function readDomain(r: Reader, path: string, value: Json, pcpus: number): DomainConfig | null {
  if (!isObject(value)) {
    r.bad(path || 'domain', 'an object', value);
    return null;
  }
  const at = (key: string) => (path ? `${path}.${key}` : key);
  r.unknownKeys(path, value, DOMAIN_KEYS);
  const name = r.string(at('name'), value.name) ?? '';
  if (name && !NAME.test(name)) r.bad(at('name'), 'letters, digits, _ . - (at most 64, starting with a letter or digit)', name);
  const strategy = readStrategy(r, at('strategy'), value.strategy);
  const memoryMiB = r.integer(at('memory'), value.memory, 1, MAX_DOMAIN_MIB);
  const vcpus = r.integer(at('vcpus'), value.vcpus, 1, MAX_VCPUS, 1);
  // The PC board has no local APICs yet, so only a PV kernel (VCPUOP_up) can bring up a second CPU.
  if (vcpus > 1 && strategy !== 'para') r.problems.push(`${at('vcpus')}: more than one vCPU needs strategy para (the PC board has no local APICs for SMP; got ${vcpus})`);
  const weight = r.integer(at('weight'), value.weight, 1, 65535, DEFAULT_WEIGHT);
  const cap = r.integer(at('cap'), value.cap, 0, 100 * vcpus, 0);
  const affinity = readAffinity(r, at('affinity'), value.affinity, pcpus);
  const boot = readBoot(r, at('boot'), value.boot, strategy);
  const disk = readDisk(r, at('disk'), value.disk);
  const autostart = r.boolean(at('autostart'), value.autostart, true);
  const on = readActions(r, at, value);
  return { name, strategy, memoryMiB, vcpus, weight, cap, affinity, boot, autostart, on, ...(disk ? { disk } : {}) };
}

function readScheduler(r: Reader, value: Json): SchedulerConfig {
  const defaults: SchedulerConfig = { maxSliceUs: 10_000, ratelimitUs: 1_000 };
  if (value === undefined) return defaults;
  if (!isObject(value)) {
    r.bad('scheduler', 'an object {"maxSliceUs"?, "ratelimitUs"?}', value);
    return defaults;
  }
  r.unknownKeys('scheduler', value, ['maxSliceUs', 'ratelimitUs']);
  const maxSliceUs = r.integer('scheduler.maxSliceUs', value.maxSliceUs, 100, 1_000_000, defaults.maxSliceUs);
  const ratelimitUs = r.integer('scheduler.ratelimitUs', value.ratelimitUs, 0, maxSliceUs, defaults.ratelimitUs);
  return { maxSliceUs, ratelimitUs };
}

function parseJson(source: string, text: string): Json {
  try {
    return JSON.parse(text) as Json;
  } catch (error) {
    throw new PlatformError(source, [`not JSON: ${(error as Error).message}`]);
  }
}

/** Validates a platform file's text. Throws a PlatformError listing every bad field. */
export function parsePlatform(text: string, source = 'platform'): PlatformConfig {
  const json = parseJson(source, text);
  const problems: string[] = [];
  const r = new Reader(problems);
  if (!isObject(json)) throw new PlatformError(source, [`must be a JSON object (got ${show(json)})`]);
  r.unknownKeys('', json, ['pcpus', 'memory', 'disk', 'control', 'scheduler', 'domains']);
  const pcpus = r.integer('pcpus', json.pcpus, 1, MAX_PCPUS);
  const before = problems.length;
  const memoryMiB = r.integer('memory', json.memory, 1, MAX_POOL_MIB);
  const memoryValid = problems.length === before;
  const disk = r.string('disk', json.disk, true);
  const control = r.string('control', json.control, true);
  const scheduler = readScheduler(r, json.scheduler);
  const domains: DomainConfig[] = [];
  if (json.domains !== undefined && !Array.isArray(json.domains)) r.bad('domains', 'a list of domains', json.domains);
  const list = Array.isArray(json.domains) ? json.domains : [];
  list.forEach((entry, i) => {
    const domain = readDomain(r, `domains[${i}]`, entry, pcpus);
    if (domain) domains.push(domain);
  });
  const seen = new Map<string, number>();
  domains.forEach((d, i) => {
    const first = seen.get(d.name);
    if (first !== undefined && d.name) problems.push(`domains[${i}].name: '${d.name}' is already the name of domains[${first}]`);
    else seen.set(d.name, i);
    if (d.disk?.kind === 'slice' && disk === undefined) problems.push(`domains[${i}].disk: a slice needs the platform's "disk"`);
  });
  const autostartMiB = domains.filter((d) => d.autostart).reduce((sum, d) => sum + d.memoryMiB, 0);
  if (memoryValid && autostartMiB > memoryMiB) {
    problems.push(`domains: the autostart domains need ${autostartMiB} MiB, the pool has ${memoryMiB} MiB`);
  }
  if (problems.length > 0) throw new PlatformError(source, problems);
  return {
    pcpus, memoryMiB, scheduler, domains, ...(disk !== undefined ? { disk } : {}), ...(control !== undefined ? { control } : {}),
  };
}

/** Validates an `xl create` file (one domain object) against a platform of `pcpus` pCPUs. */
export function parseDomain(text: string, pcpus: number, source = 'domain'): DomainConfig {
  const problems: string[] = [];
  const domain = readDomain(new Reader(problems), '', parseJson(source, text), pcpus);
  if (problems.length > 0 || !domain) throw new PlatformError(source, problems);
  return domain;
}
