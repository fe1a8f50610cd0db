import { describe, expect, it } from 'vitest';
import { PlatformError, parseDomain, parsePlatform } from '../src/platform/validate.js';

function problems(text: string): readonly string[] {
  try {
    parsePlatform(text, 'p.json');
  } catch (error) {
    expect(error).toBeInstanceOf(PlatformError);
    return (error as PlatformError).problems;
  }
  throw new Error('the platform was accepted');
}

const good = {
  pcpus: 2, memory: 64,
  domains: [
    { name: 'a', strategy: 'hw:vmx', memory: 8, boot: { compute: true } },
    { name: 'b', strategy: 'full', memory: 8, weight: 512, cap: 50, affinity: [1], boot: { guest: 'hello' } },
    { name: 'c', strategy: 'para', memory: 16, boot: { pv: '/k.elf', cmdline: 'x' }, autostart: false },
  ],
};

describe('platform file', () => {
  it('accepts a good file and fills in the defaults', () => {
    const p = parsePlatform(JSON.stringify(good));
    expect(p.pcpus).toBe(2);
    expect(p.scheduler).toEqual({ maxSliceUs: 10_000, ratelimitUs: 1_000 });
    expect(p.domains[0]).toMatchObject({ weight: 256, cap: 0, affinity: [0, 1], vcpus: 1, autostart: true, boot: { kind: 'compute' } });
    expect(p.domains[1]).toMatchObject({ weight: 512, cap: 50, affinity: [1], boot: { kind: 'guest', name: 'hello' } });
    expect(p.domains[2]).toMatchObject({ autostart: false, boot: { kind: 'pv', kernel: '/k.elf', cmdline: 'x' } });
  });

  it('says what is wrong with each bad field, one line each', () => {
    const bad = {
      pcpus: 0, memory: 'lots', colour: 'red', scheduler: { ratelimitUs: -1 },
      domains: [
        { name: 'bad name!', strategy: 'none', memory: 0, weight: 70000, cap: 101, affinity: [3], boot: { guest: 'nope' } },
        { name: 'x', strategy: 'kvm', memory: 8, vcpus: 2, boot: {} },
        { name: 'x', strategy: 'full', memory: 8, boot: { compute: true }, disk: { offset: 3, size: 512, access: 'r' } },
      ],
    };
    const lines = problems(JSON.stringify(bad));
    const expected = [
      /^colour: unknown field/,
      /^pcpus: must be an integer from 1 to 64 \(got 0\)/,
      /^memory: must be an integer from 1 to 8192 \(got "lots"\)/,
      /^scheduler\.ratelimitUs: must be an integer/,
      /^domains\[0\]\.name: must be letters/,
      /^domains\[0\]\.strategy: 'none' is refused: a type-1 hypervisor virtualizes/,
      /^domains\[0\]\.memory: must be an integer from 1 to 3072 \(got 0\)/,
      /^domains\[0\]\.weight: must be an integer from 1 to 65535 \(got 70000\)/,
      /^domains\[0\]\.cap: must be an integer from 0 to 100 \(got 101\)/,
      /^domains\[0\]\.affinity\[0\]: must be an integer from 0 to 0/,
      /^domains\[0\]\.boot\.guest: must be a bundled guest/,
      /^domains\[1\]\.strategy: must be one of full, para, hw:vmx \(got "kvm"\)/,
      /^domains\[1\]\.vcpus: more than one vCPU needs strategy para/,
      /^domains\[1\]\.boot: must name exactly one of compute, guest, flat, kernel, pv \(got none\)/,
      /^domains\[2\]\.disk\.access: must be "rw" or "ro" \(got "r"\)/,
      /^domains\[2\]\.disk\.offset: must be a multiple of 512/,
      /^domains\[2\]\.name: 'x' is already the name of domains\[1\]/,
      /^domains\[2\]\.disk: a slice needs the platform's "disk"/,
    ];
    for (const pattern of expected) expect(lines.some((l) => pattern.test(l)), `${pattern}\n${lines.join('\n')}`).toBe(true);
    expect(lines).toHaveLength(expected.length);
  });

  it('reads a disk\'s access: read-write unless "ro"', () => {
    const domain = (disk: object) => parsePlatform(JSON.stringify({ pcpus: 1, memory: 64, disk: '/p.img', domains: [{ name: 'd', strategy: 'full', memory: 8, boot: { compute: true }, disk }] })).domains[0].disk;
    expect(domain({ file: '/x.img' })).toEqual({ kind: 'file', path: '/x.img', readOnly: false });
    expect(domain({ file: '/x.img', access: 'ro' })).toEqual({ kind: 'file', path: '/x.img', readOnly: true });
    expect(domain({ offset: 512, size: 1024, access: 'rw' })).toEqual({ kind: 'slice', offset: 512, size: 1024, readOnly: false });
    expect(domain({ offset: 512, size: 1024, access: 'ro' })).toEqual({ kind: 'slice', offset: 512, size: 1024, readOnly: true });
  });

  it('refuses boot images that do not fit the strategy', () => {
    const domain = (strategy: string, boot: object) => JSON.stringify({ pcpus: 1, memory: 64, domains: [{ name: 'd', strategy, memory: 8, boot }] });
    expect(problems(domain('para', { compute: true }))[0]).toMatch(/strategy para boots a \{"pv": FILE\} kernel/);
    expect(problems(domain('full', { pv: '/k' }))[0]).toMatch(/a PV kernel needs strategy para/);
    expect(problems(domain('hw:vmx', { guest: 'minikernel-pv' }))[0]).toMatch(/needs strategy para/);
    expect(problems(domain('para', { guest: 'hello' }))[0]).toMatch(/cannot boot under strategy para/);
    expect(problems(domain('full', { guest: 'constructor' }))[0]).toMatch(/boot\.guest: must be a bundled guest .* \(got "constructor"\)/);
    expect(problems(domain('full', { kernel: '/vmlinuz', cmdline: 7 }))[0]).toMatch(/boot\.cmdline: must be a non-empty string \(got 7\)/);
    expect(problems(domain('hw:vmx', { flat: '/x.bin', address: -1 }))[0]).toMatch(/boot\.address: must be an integer from 0 to 4294963200 \(got -1\)/);
    expect(parsePlatform(domain('hw:vmx', { flat: '/x.bin', address: 0x100000 })).domains[0].boot).toEqual({ kind: 'flat', file: '/x.bin', address: 0x100000 });
    // An initrd goes with a Linux or PV kernel only.
    expect(parsePlatform(domain('para', { pv: '/bzImage', initrd: '/initrd', cmdline: 'console=hvc0' })).domains[0].boot)
      .toEqual({ kind: 'pv', kernel: '/bzImage', initrd: '/initrd', cmdline: 'console=hvc0' });
    expect(problems(domain('hw:vmx', { compute: true, initrd: '/initrd' }))[0]).toMatch(/boot\.initrd: only a kernel or pv boot takes an initrd/);
  });

  it('refuses more autostart memory than the pool has, and non-JSON', () => {
    const over = { pcpus: 1, memory: 16, domains: [1, 2, 3].map((i) => ({ name: `d${i}`, strategy: 'full', memory: 8, boot: { compute: true } })) };
    expect(problems(JSON.stringify(over))).toEqual(['domains: the autostart domains need 24 MiB, the pool has 16 MiB']);
    expect(problems('{ pcpus: 1')[0]).toMatch(/^not JSON/);
    expect(problems('[1]')[0]).toMatch(/must be a JSON object/);
  });

  it('reads on_poweroff, on_reboot, on_crash and on_watchdog with xl\'s defaults, and names each bad one', () => {
    const domain = (extra: object) => JSON.stringify({ pcpus: 1, memory: 64, domains: [{ name: 'd', strategy: 'hw:vmx', memory: 8, boot: { compute: true }, ...extra }] });
    expect(parsePlatform(domain({})).domains[0].on).toEqual({ poweroff: 'destroy', reboot: 'restart', crash: 'destroy', watchdog: 'destroy' });
    expect(parsePlatform(domain({ on_poweroff: 'restart', on_reboot: 'preserve', on_crash: 'restart', on_watchdog: 'restart' })).domains[0].on)
      .toEqual({ poweroff: 'restart', reboot: 'preserve', crash: 'restart', watchdog: 'restart' });
    expect(parsePlatform(domain({ on_crash: 'preserve' })).domains[0].on).toEqual({ poweroff: 'destroy', reboot: 'restart', crash: 'preserve', watchdog: 'destroy' });
    expect(parsePlatform(domain({ on_watchdog: 'preserve' })).domains[0].on).toEqual({ poweroff: 'destroy', reboot: 'restart', crash: 'destroy', watchdog: 'preserve' });
    // Names that an object lookup would find (constructor, __proto__, toString) are bad values like any other.
    const lines = problems(domain({ on_poweroff: 'constructor', on_reboot: '__proto__', on_crash: 'toString', on_watchdog: 'hasOwnProperty' }));
    expect(lines).toEqual([
      'domains[0].on_poweroff: must be one of destroy, restart, preserve (got "constructor")',
      'domains[0].on_reboot: must be one of destroy, restart, preserve (got "__proto__")',
      'domains[0].on_crash: must be one of destroy, restart, preserve (got "toString")',
      'domains[0].on_watchdog: must be one of destroy, restart, preserve (got "hasOwnProperty")',
    ]);
    expect(problems(domain({ on_poweroff: 7, on_reboot: null, on_crash: ['restart'], on_watchdog: { action: 'restart' } }))).toEqual([
      'domains[0].on_poweroff: must be one of destroy, restart, preserve (got 7)',
      'domains[0].on_reboot: must be one of destroy, restart, preserve (got null)',
      'domains[0].on_crash: must be one of destroy, restart, preserve (got ["restart"])',
      'domains[0].on_watchdog: must be one of destroy, restart, preserve (got {"action":"restart"})',
    ]);
    expect(problems(domain({ on_crash: 'coredump-destroy', on_reboot: 'rename-restart', on_poweroff: 'Destroy', on_watchdog: 'coredump-restart' }))).toEqual([
      'domains[0].on_poweroff: must be one of destroy, restart, preserve (got "Destroy")',
      "domains[0].on_reboot: 'rename-restart' is an xl action this hypervisor does not take (use destroy, restart, preserve)",
      "domains[0].on_crash: 'coredump-destroy' is an xl action this hypervisor does not take (use destroy, restart, preserve)",
      "domains[0].on_watchdog: 'coredump-restart' is an xl action this hypervisor does not take (use destroy, restart, preserve)",
    ]);
    expect(problems(domain({ on_shutdown: 'destroy' }))[0]).toMatch(/^domains\[0\]\.on_shutdown: unknown field \(known: .*on_poweroff, on_reboot, on_crash, on_watchdog\)/);
    // An xl create file is read the same way, its fields named without a path.
    expect(parseDomain(JSON.stringify({ name: 'n', strategy: 'para', memory: 4, boot: { pv: '/k' }, on_reboot: 'destroy' }), 1).on.reboot).toBe('destroy');
    expect(() => parseDomain(JSON.stringify({ name: 'n', strategy: 'para', memory: 4, boot: { pv: '/k' }, on_crash: '' }), 1, 'n.json'))
      .toThrow(/^n\.json: on_crash: must be one of destroy, restart, preserve \(got ""\)$/);
    expect(parseDomain(JSON.stringify({ name: 'n', strategy: 'para', memory: 4, boot: { pv: '/k' }, on_watchdog: 'restart' }), 1).on.watchdog).toBe('restart');
  });

  it('reads an xl create file (one domain) against the platform', () => {
    const d = parseDomain(JSON.stringify({ name: 'n', strategy: 'hw:vmx', memory: 4, affinity: 'all', boot: { compute: true } }), 3);
    expect(d.affinity).toEqual([0, 1, 2]);
    expect(() => parseDomain(JSON.stringify({ name: 'n', strategy: 'hw:vmx', memory: 4, affinity: [5], boot: { compute: true } }), 2, 'n.json'))
      .toThrow(/^n\.json: affinity\[0\]: must be an integer from 0 to 1 \(got 5\)$/);
  });
});
