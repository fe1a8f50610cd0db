#!/usr/bin/env node
// First step of both quick-start commands: make sure pnpm exists, install the workspace, build it.
// Needs only Node 20 and npm; every later run is a fast no-op thanks to pnpm's and turbo's caches.
import { execSync, spawnSync } from 'node:child_process';

const quiet = process.argv.includes('--quiet');
const log = (msg) => { if (!quiet) process.stderr.write(`[setup] ${msg}\n`); };

function has(cmd) {
  return spawnSync(cmd, ['--version'], { stdio: 'ignore', shell: process.platform === 'win32' }).status === 0;
}

function run(cmd) {
  log(cmd);
  execSync(cmd, { stdio: ['ignore', quiet ? 'ignore' : 'inherit', 'inherit'] });
}

try {
  if (!has('pnpm')) {
    log('pnpm not found: installing pnpm@10 with npm');
    run('npm install --global pnpm@10');
  }
  run('pnpm install --frozen-lockfile --reporter=silent');
  run('pnpm turbo run build --output-logs=errors-only');
} catch (err) {
  process.stderr.write(`[setup] failed: ${err.message.split('\n')[0]}\n`);
  process.exit(1);
}
