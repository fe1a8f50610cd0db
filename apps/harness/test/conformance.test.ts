import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { conformance } from '../src/conformance.js';

// `harness conformance` on a small directory of real vectors: per-form failure lines, the summary of
// documented differences, and the closing `N passed, M failed` line.

const VECTORS = resolve(import.meta.dirname, '../../../../shared/conformance/80286-real-mode');
const present = existsSync(VECTORS);
if (!present) console.warn(`conformance command test skipped: ${VECTORS} is missing`);

describe.skipIf(!present)('harness conformance', () => {
  const dirs: string[] = [];
  afterEach(() => {
    vi.restoreAllMocks();
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  async function run(args: string[]): Promise<{ code: number; out: string }> {
    let out = '';
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
      out += String(chunk);
      return true;
    });
    const code = await conformance(args);
    return { code, out };
  }

  it('ends with "N passed, M failed" over the cases it found', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sst286-'));
    dirs.push(dir);
    for (const form of ['00', '9D', 'F6.7']) {
      const lines = gunzipSync(readFileSync(join(VECTORS, `${form}.json.gz`))).toString('utf8').split('\n').slice(0, 10);
      writeFileSync(join(dir, `${form}.json.gz`), gzipSync(lines.join('\n')));
    }
    const { code, out } = await run(['--suite', 'sst286', '--dir', dir]);
    const last = out.trimEnd().split('\n').at(-1);
    expect(last).toBe('30 passed, 0 failed');
    expect(code).toBe(0);
  });

  it('reports a case the CPU gets wrong on its form line', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sst286-'));
    dirs.push(dir);
    const first = JSON.parse(gunzipSync(readFileSync(join(VECTORS, '00.json.gz'))).toString('utf8').split('\n')[0]);
    first.final.regs.ip = (first.final.regs.ip + 1) & 0xffff; // a wrong expectation
    writeFileSync(join(dir, '00.json.gz'), gzipSync(JSON.stringify(first)));
    const { code, out } = await run(['--suite', 'sst286', '--dir', dir]);
    expect(out).toMatch(/^00: 1\/1 failed, e\.g\. #0 /m);
    expect(out.trimEnd().split('\n').at(-1)).toBe('0 passed, 1 failed');
    expect(code).toBe(1);
  });

  it('rejects an unknown suite', async () => {
    vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    expect((await run(['--suite', 'nope'])).code).toBe(2);
  });
});
