import { describe, expect, it } from 'vitest';
import { parseArgs, UsageError } from '../src/args.js';
import { RUN_OPTIONS } from '../src/help.js';
import { parseAddress, parseChoice, parseRtcStart, parseSeconds, parseSeed, parseSize } from '../src/values.js';

const parse = (argv: string[]) => parseArgs(argv, RUN_OPTIONS, 'ringvisor run');

describe('parseArgs', () => {
  it('reads values in both spellings, flags and the image', () => {
    const args = parse(['--mem', '32M', '--vmm=hw', '--stats', 'kernel.elf', '--', '--odd-name']);
    expect(args.options.get('mem')).toBe('32M');
    expect(args.options.get('vmm')).toBe('hw');
    expect(args.options.get('stats')).toBe(true);
    expect(args.positional).toEqual(['kernel.elf', '--odd-name']);
  });

  it('refuses unknown options, missing values and values given to flags', () => {
    expect(() => parse(['--memory', '1G'])).toThrow(new UsageError('unknown option --memory (see ringvisor run --help)'));
    expect(() => parse(['-x'])).toThrow(UsageError);
    expect(() => parse(['--mem'])).toThrow('option --mem needs a value: --mem SIZE');
    expect(() => parse(['--mem='])).toThrow('needs a value');
    expect(() => parse(['--stats=yes'])).toThrow('option --stats takes no value');
  });
});

describe('option values', () => {
  it('reads sizes in binary units', () => {
    expect(parseSize('64M', 'mem')).toBe(64 * 2 ** 20);
    expect(parseSize('512k', 'mem')).toBe(512 * 1024);
    expect(parseSize('1GiB', 'mem')).toBe(2 ** 30);
    expect(parseSize('4096', 'mem')).toBe(4096);
    for (const bad of ['', '64Q', '-1M', '0', '1.5G', 'M']) expect(() => parseSize(bad, 'mem')).toThrow(/^bad size/);
  });

  it('reads addresses in hex or decimal below 4 GiB', () => {
    expect(parseAddress('0x7c00', 'flat')).toBe(0x7c00);
    expect(parseAddress('1048576', 'flat')).toBe(0x100000);
    for (const bad of ['0x', '0x1_0000_0000', '0x100000000', 'zz', '-5']) expect(() => parseAddress(bad, 'flat')).toThrow(/^bad address/);
  });

  it('reads seconds and choices', () => {
    expect(parseSeconds('0.5', 'max-time')).toBe(0.5);
    expect(() => parseSeconds('0', 'max-time')).toThrow(/^bad time/);
    expect(() => parseSeconds('ten', 'max-time')).toThrow(/^bad time/);
    expect(parseChoice('host', ['virtual', 'host'], 'clock')).toBe('host');
    expect(() => parseChoice('wall', ['virtual', 'host'], 'clock')).toThrow("bad value 'wall' for --clock (one of: virtual, host)");
  });
});

describe('--rtc', () => {
  it('takes host (the default: undefined) or a UTC date or date-time', () => {
    expect(parseRtcStart('host', 'rtc')).toBeUndefined();
    expect(parseRtcStart('2026-01-01', 'rtc')).toBe(Date.UTC(2026, 0, 1));
    expect(parseRtcStart('2024-02-29T08:30', 'rtc')).toBe(Date.UTC(2024, 1, 29, 8, 30));
    expect(parseRtcStart('2030-12-31T23:59:59.5', 'rtc')).toBe(Date.UTC(2030, 11, 31, 23, 59, 59, 500));
    expect(parseRtcStart('2026-06-01T12:00:00+02:00', 'rtc')).toBe(Date.UTC(2026, 5, 1, 10));
  });

  it('refuses what is not a real date', () => {
    for (const bad of ['2026-02-30', '2025-02-29', '2026-13-01', 'yesterday', '1969-12-31', '2026-1-1', '']) {
      expect(() => parseRtcStart(bad, 'rtc')).toThrow(/^bad time '.*' for --rtc/);
    }
  });
});

describe('--seed', () => {
  it('takes a decimal integer from 0 to 2^53 - 1 and refuses anything else', () => {
    expect(parseSeed('0', 'seed')).toBe(0);
    expect(parseSeed('42', 'seed')).toBe(42);
    expect(parseSeed('9007199254740991', 'seed')).toBe(Number.MAX_SAFE_INTEGER);
    for (const bad of ['', '-1', '1.5', '0x10', '1e3', '9007199254740992', ' 7', 'seed']) {
      expect(() => parseSeed(bad, 'seed')).toThrow(/^bad seed '.*' for --seed/);
    }
  });
});
