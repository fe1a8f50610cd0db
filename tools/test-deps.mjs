#!/usr/bin/env node
// Installs from Debian what the test suite runs but a fresh machine lacks, so that CI runs those tests
// instead of skipping them: QEMU for the protected-mode differential tests and the Linux benchmark's
// peer, xz for the uncompressed vmlinux, a C toolchain for the x87 comparison and the guest images,
// util-linux's `script` for the terminal test. Only what is missing is installed, with one
// `apt-get update` first, and only as root on a host with apt-get; otherwise it says what it would
// need and the tests that need it skip with their own reason. `/dev/kvm` cannot be installed.
//
//   node tools/test-deps.mjs [--check]      --check: only report what is missing
import { spawnSync } from 'node:child_process';

/** Command the tests look for → the Debian package that provides it. */
export const TEST_COMMANDS = [
  ['qemu-system-i386', 'qemu-system-x86'],
  ['qemu-system-x86_64', 'qemu-system-x86'],
  ['xz', 'xz-utils'],
  ['cc', 'gcc'],
  ['gcc', 'gcc'],
  ['as', 'binutils'],
  ['ld', 'binutils'],
  ['objcopy', 'binutils'],
  ['strip', 'binutils'],
  ['script', 'bsdutils'],
];

const present = (cmd) => spawnSync(cmd, ['--version'], { stdio: 'ignore' }).status === 0;

/** Debian packages whose commands are missing here (each once). */
export function missingPackages() {
  return [...new Set(TEST_COMMANDS.filter(([cmd]) => !present(cmd)).map(([, pkg]) => pkg))];
}

/**
 * Installs the missing packages; `log` gets one line per step. Returns the packages still missing
 * (empty when everything is there), never throws.
 */
export function installTestDependencies(log = (line) => process.stderr.write(`[test deps] ${line}\n`)) {
  const missing = missingPackages();
  if (missing.length === 0) return [];
  const why = !present('apt-get') ? 'no apt-get on this host'
    : process.getuid?.() !== 0 ? 'not root'
      : null;
  if (why !== null) {
    log(`${why}: not installing ${missing.join(' ')} (tests that need them skip)`);
    return missing;
  }
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  log(`installing from Debian: ${missing.join(' ')}`);
  const steps = [['update', '-qq'], ['install', '-y', '-qq', '--no-install-recommends', ...missing]];
  for (const args of steps) {
    const r = spawnSync('apt-get', args, { env, encoding: 'utf8', timeout: 900_000 });
    if (r.status !== 0) {
      const detail = (r.stderr || r.error?.message || `status ${r.status}`).trim().split('\n').pop();
      log(`apt-get ${args[0]} failed: ${detail} (tests that need ${missing.join(' ')} skip)`);
      return missingPackages();
    }
  }
  const still = missingPackages();
  log(still.length === 0 ? 'installed' : `still missing after install: ${still.join(' ')}`);
  return still;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  if (process.argv.includes('--check')) {
    const missing = missingPackages();
    process.stdout.write(missing.length === 0 ? 'nothing missing\n' : `missing: ${missing.join(' ')}\n`);
  } else {
    process.exitCode = installTestDependencies().length === 0 ? 0 : 1;
  }
}
