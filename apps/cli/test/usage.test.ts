// The command's face without a guest: help texts and one-line errors.
import { describe, expect, it } from 'vitest';
import { RUN_OPTIONS } from '../src/help.js';
import { ringvisorDone } from './spawn.js';

/** An error is exactly one line on stderr, no stack trace, and a non-zero status. */
function expectOneLineError(result: { status: number | null; stdout: string; stderr: string }, pattern: RegExp): void {
  expect(result.status).not.toBe(0);
  expect(result.stdout).toBe('');
  const lines = result.stderr.split('\n').filter((line) => line !== '');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^ringvisor: /);
  expect(lines[0]).toMatch(pattern);
  expect(result.stderr).not.toMatch(/\n\s+at /);
}

describe('ringvisor help', () => {
  it('prints the commands for --help, -h and no arguments', async () => {
    for (const args of [['--help'], ['-h'], []]) {
      const result = await ringvisorDone(args);
      expect(result.status).toBe(0);
      expect(result.stdout).toMatch(/^Usage: ringvisor <command>/);
      for (const command of ['run', 'vmms', 'guests', 'help']) expect(result.stdout).toContain(`\n  ${command} `);
    }
  });

  it('documents every option of run in run --help and help run', async () => {
    for (const args of [['run', '--help'], ['help', 'run']]) {
      const result = await ringvisorDone(args);
      expect(result.status).toBe(0);
      for (const option of RUN_OPTIONS) expect(result.stdout).toContain(`--${option.name}`);
      expect(result.stdout).toContain('Ctrl-A x');
      expect(result.stdout).toContain('demo');
    }
  });

  it('has help for vmms and guests', async () => {
    expect((await ringvisorDone(['vmms', '--help'])).stdout).toMatch(/^Usage: ringvisor vmms/);
    expect((await ringvisorDone(['help', 'guests'])).stdout).toMatch(/^Usage: ringvisor guests/);
  });
});

describe('ringvisor vmms and guests', () => {
  it('lists both strategies with their availability, and the bundled guests', async () => {
    const vmms = await ringvisorDone(['vmms']);
    expect(vmms.status).toBe(0);
    expect(vmms.stdout).toMatch(/^none +available +\S/m);
    expect(vmms.stdout).toMatch(/^hw +(available|unavailable) +\S/m);
    const guests = await ringvisorDone(['guests']);
    expect(guests.status).toBe(0);
    for (const name of ['demo', 'hello', 'hello-real', 'irq-test']) expect(guests.stdout).toMatch(new RegExp(`^${name} +\\S`, 'm'));
  });
});

describe('ringvisor errors', () => {
  it('refuses a bad size, address, option, command and clock in one line each', async () => {
    expectOneLineError(await ringvisorDone(['run', '--mem', '64Q']), /bad size '64Q' for --mem/);
    expectOneLineError(await ringvisorDone(['run', '--flat', '0xZZ', 'x.bin']), /bad address '0xZZ' for --flat/);
    expectOneLineError(await ringvisorDone(['run', '--frobnicate']), /unknown option --frobnicate/);
    expectOneLineError(await ringvisorDone(['frobnicate']), /unknown command 'frobnicate'/);
    expectOneLineError(await ringvisorDone(['run', '--clock', 'wall']), /bad value 'wall' for --clock/);
    expectOneLineError(await ringvisorDone(['run', '--serial', 'udp:9']), /bad value 'udp:9' for --serial/);
    expectOneLineError(await ringvisorDone(['run', '--mem']), /--mem needs a value/);
    expectOneLineError(await ringvisorDone(['run', '--disk-access', 'ro']), /--disk-access needs --disk/);
  });

  it('says which file is missing', async () => {
    expectOneLineError(await ringvisorDone(['run', '/nonexistent/kernel.elf']), /cannot read image \/nonexistent\/kernel.elf: no such file/);
    expectOneLineError(await ringvisorDone(['run', '--kernel', '/nonexistent/bzImage']), /cannot read kernel \/nonexistent\/bzImage: no such file/);
    expectOneLineError(await ringvisorDone(['run', '--disk', '/nonexistent/disk.img']), /cannot open disk \/nonexistent\/disk.img: no such file/);
  });

  it('lists the known VMMs for an unknown --vmm', async () => {
    expectOneLineError(await ringvisorDone(['run', '--vmm', 'vmware']), /unknown VMM 'vmware' for --vmm \(known: none, full, para, hw, hw:kvm, hw:vmx\)/);
  });
});
