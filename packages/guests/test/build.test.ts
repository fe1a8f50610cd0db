import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const packageDir = fileURLToPath(new URL('..', import.meta.url));
const imagesDir = join(packageDir, 'images');

function toolVersion(tool: string): string | null {
  try {
    return execFileSync(tool, ['--version'], { encoding: 'utf8' }).split('\n')[0];
  } catch {
    return null;
  }
}

/** Why the byte-for-byte check cannot run here, or null when it can. */
function skipReason(): string | null {
  const missing = ['gcc', 'as', 'ld', 'objcopy', 'strip'].filter((tool) => toolVersion(tool) === null);
  if (missing.length > 0) return `toolchain missing: ${missing.join(', ')}`;
  const recorded = readFileSync(join(imagesDir, 'TOOLCHAIN'), 'utf8').trim();
  const local = `${toolVersion('gcc')}\n${toolVersion('ld')}`;
  if (recorded !== local) return `images were built with "${recorded.replace('\n', ', ')}", this machine has "${local.replace('\n', ', ')}"`;
  return null;
}

describe('build.sh', () => {
  const reason = skipReason();
  if (reason) console.warn(`skipping image reproduction: ${reason}`);

  it.skipIf(reason !== null)('reproduces every committed image byte for byte', () => {
    const out = mkdtempSync(join(tmpdir(), 'rv-guests-'));
    try {
      execFileSync('sh', [join(packageDir, 'build.sh'), out], { stdio: 'pipe' });
      const built = readdirSync(out).sort();
      expect(built).toEqual(readdirSync(imagesDir).sort());
      for (const file of built) {
        expect(Buffer.compare(readFileSync(join(out, file)), readFileSync(join(imagesDir, file))), file).toBe(0);
      }
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  }, 60_000); // a dozen gcc runs: seconds on a loaded machine
});
