// Before the whole-workspace test run: install from Debian the commands tests run (QEMU, xz, a C
// toolchain, script: test-deps.mjs), then fetch the Debian kernels and initramfs once (i386 cached in
// .cache/linux, amd64 in .cache/linux-amd64), so every test that needs them runs for real where apt
// can provide them. Where it
// cannot, those tests skip and print why; this step only says what happened.
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { installTestDependencies } from './test-deps.mjs';

export default function setup() {
  installTestDependencies((line) => process.stderr.write(`[global setup] ${line}\n`));
  if (spawnSync('apt-get', ['--version'], { stdio: 'ignore' }).status !== 0) {
    process.stderr.write('[global setup] apt-get missing: Linux guest tests will skip\n');
    return;
  }
  const tool = join(dirname(fileURLToPath(import.meta.url)), 'linux-guest.mjs');
  for (const arch of ['i386', 'amd64']) {
    const r = spawnSync(process.execPath, [tool, '--arch', arch, '--quiet'], { encoding: 'utf8', timeout: 600_000 });
    if (r.status !== 0) process.stderr.write(`[global setup] Linux ${arch} guest not available: ${r.stderr.trim().split('\n').pop()}\n`);
  }
}
