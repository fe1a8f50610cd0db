// Versioned consumption: every public package is packed as npm would publish it, installed from the
// tarballs into a scratch project outside the workspace, and imported from ESM and CJS with types.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '..');
const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');

interface PublicPackage { name: string; dir: string; bin: boolean; runtimeExports: boolean }

function publicPackages(): PublicPackage[] {
  const found: PublicPackage[] = [];
  for (const group of ['packages', 'apps']) {
    for (const entry of readdirSync(join(root, group))) {
      const dir = join(root, group, entry);
      const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
      if (manifest.private) continue;
      found.push({ name: manifest.name, dir, bin: !manifest.exports, runtimeExports: manifest.name !== '@ringvisor/vmm-api' });
    }
  }
  return found;
}

const packages = publicPackages();
const libraries = packages.filter((p) => !p.bin);
let scratch = '';

beforeAll(() => {
  scratch = mkdtempSync(join(tmpdir(), 'ringvisor-consumer-'));
  const tarballs = join(scratch, 'tarballs');
  const files: Record<string, string> = {};
  for (const pkg of packages) {
    const out = execFileSync('pnpm', ['pack', '--pack-destination', tarballs], { cwd: pkg.dir, encoding: 'utf8' });
    const tgz = out.trim().split('\n').filter((l) => l.endsWith('.tgz')).pop();
    if (!tgz) throw new Error(`pnpm pack printed no tarball for ${pkg.name}: ${out}`);
    files[pkg.name] = `file:${resolve(pkg.dir, tgz.startsWith('/') ? tgz : join(tarballs, tgz.split('/').pop()!))}`;
  }
  // The scratch project depends on the tarballs; overrides make their inter-dependencies resolve to
  // the same tarballs instead of the (unpublished) registry versions.
  writeFileSync(join(scratch, 'package.json'), JSON.stringify({
    name: 'ringvisor-consumer', private: true, version: '1.0.0',
    dependencies: files, overrides: files,
  }, null, 2));
  execFileSync('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error'], { cwd: scratch, stdio: 'pipe' });
}, 300_000);

afterAll(() => { if (scratch) rmSync(scratch, { recursive: true, force: true }); });

describe('packed packages installed outside the workspace', () => {
  it.each(libraries.map((p) => [p.name, p] as const))('%s imports from ESM', (name, pkg) => {
    const script = `const m = await import(${JSON.stringify(name)}); console.log(Object.keys(m).length);`;
    const out = execFileSync('node', ['--input-type=module', '-e', script], { cwd: scratch, encoding: 'utf8' });
    if (pkg.runtimeExports) expect(Number(out.trim())).toBeGreaterThan(0);
    else expect(out.trim()).toBe('0');
  });

  it.each(libraries.map((p) => [p.name, p] as const))('%s requires from CJS', (name, pkg) => {
    const script = `const m = require(${JSON.stringify(name)}); console.log(Object.keys(m).length);`;
    const out = execFileSync('node', ['-e', script], { cwd: scratch, encoding: 'utf8' });
    if (pkg.runtimeExports) expect(Number(out.trim())).toBeGreaterThan(0);
    else expect(out.trim()).toBe('0');
  });

  it('resolves every package\'s types from ESM and CJS consumers', () => {
    const imports = libraries.map((p, i) => `import type * as P${i} from ${JSON.stringify(p.name)};\nexport type T${i} = typeof P${i};`).join('\n');
    writeFileSync(join(scratch, 'consumer.mts'), imports + '\n');
    writeFileSync(join(scratch, 'consumer.cts'), imports + '\n');
    writeFileSync(join(scratch, 'tsconfig.json'), JSON.stringify({
      compilerOptions: { module: 'nodenext', moduleResolution: 'nodenext', strict: true, noEmit: true, skipLibCheck: false, types: [] },
      files: ['consumer.mts', 'consumer.cts'],
    }));
    execFileSync('node', [tsc, '-p', 'tsconfig.json'], { cwd: scratch, encoding: 'utf8' });
  });

  it('installs the ringvisor command as a bin', () => {
    const cli = packages.find((p) => p.name === '@ringvisor/cli');
    expect(cli).toBeDefined();
    expect(existsSync(join(scratch, 'node_modules', '.bin', 'ringvisor'))).toBe(true);
  });
});
