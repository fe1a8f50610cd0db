import { UsageError } from './args.js';

const UNITS: Record<string, number> = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 };

/** `64M`, `512K`, `1G`, `1GiB`, `65536` → bytes (binary units). */
export function parseSize(text: string, option: string): number {
  const match = /^(\d+)([KMG]?)(?:i?B)?$/i.exec(text.trim());
  const bytes = match ? Number(match[1]) * UNITS[match[2].toUpperCase()] : NaN;
  if (!Number.isSafeInteger(bytes) || bytes <= 0) {
    throw new UsageError(`bad size '${text}' for --${option} (use e.g. 64M, 512K, 1G)`);
  }
  return bytes;
}

/** `0x7c00`, `31744` → a guest-physical address below 4 GiB. */
export function parseAddress(text: string, option: string): number {
  const value = /^0x[0-9a-f]+$/i.test(text) ? Number.parseInt(text.slice(2), 16) : /^\d+$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(value) || value > 0xffffffff) {
    throw new UsageError(`bad address '${text}' for --${option} (use e.g. 0x7c00 or 1048576, below 4 GiB)`);
  }
  return value;
}

/** A positive number of seconds (fractions allowed). */
export function parseSeconds(text: string, option: string): number {
  const value = /^\d+(\.\d+)?$/.test(text) ? Number(text) : NaN;
  if (!(value > 0) || !Number.isFinite(value)) {
    throw new UsageError(`bad time '${text}' for --${option} (seconds, e.g. 10 or 0.5)`);
  }
  return value;
}

export function parseChoice<T extends string>(text: string, choices: readonly T[], option: string): T {
  if (!(choices as readonly string[]).includes(text)) {
    throw new UsageError(`bad value '${text}' for --${option} (one of: ${choices.join(', ')})`);
  }
  return text as T;
}

/** `--seed`: a decimal integer from 0 to 2^53 - 1. */
export function parseSeed(text: string, option: string): number {
  const seed = /^\d{1,16}$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(seed)) throw new UsageError(`bad seed '${text}' for --${option} (an integer from 0 to ${Number.MAX_SAFE_INTEGER})`);
  return seed;
}

/** A PV domain's vCPUs (`--vcpus`): 1 to 32, the vcpu_info slots of its shared_info. */
export function parseVcpus(text: string, option: string): number {
  const count = /^\d{1,2}$/.test(text) ? Number(text) : NaN;
  if (!(count >= 1 && count <= 32)) throw new UsageError(`bad count '${text}' for --${option} (an integer from 1 to 32)`);
  return count;
}

/**
 * `--rtc`: `host` (undefined: the host's time at VM start) or an ISO 8601 date or date-time, read
 * as UTC unless it carries an offset (`2026-01-01`, `2026-01-01T12:00:00`, `...+02:00`) → ms since the epoch.
 */
export function parseRtcStart(text: string, option: string): number | undefined {
  if (text === 'host') return undefined;
  const match = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}:\d{2}(?::\d{2}(?:\.\d{1,3})?)?)(Z|[+-]\d{2}:\d{2})?)?$/.exec(text);
  let ms = NaN;
  if (match) {
    const [, year, month, day, time, zone] = match;
    // Date.parse would roll 2026-02-30 over to March: the calendar date must come back unchanged.
    const date = new Date(Date.UTC(Number(year), Number(month) - 1, Number(day)));
    const real = date.getUTCFullYear() === Number(year) && date.getUTCMonth() === Number(month) - 1 && date.getUTCDate() === Number(day);
    if (real) ms = Date.parse(`${year}-${month}-${day}T${time ?? '00:00'}${zone ?? 'Z'}`);
  }
  if (!(ms >= 0)) {
    throw new UsageError(`bad time '${text}' for --${option} (host, or a UTC date like 2026-01-01 or 2026-01-01T08:30:00)`);
  }
  return ms;
}
