import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { conformance } from '../src/conformance.js';

// `harness conformance` on a small directory of real vectors: per-form failure lines naming the
// documented difference behind each failure, the unexplained count, and the closing `N passed, M failed`.

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

  function sample(forms: string[], count: number): string {
    const dir = mkdtempSync(join(tmpdir(), 'sst286-'));
    dirs.push(dir);
    for (const form of forms) {
      const lines = gunzipSync(readFileSync(join(VECTORS, `${form}.json.gz`))).toString('utf8').split('\n').slice(0, count);
      writeFileSync(join(dir, `${form}.json.gz`), gzipSync(lines.join('\n')));
    }
    return dir;
  }

  it('ends with "N passed, M failed" over the cases it found: the 80286 model matches them all', async () => {
    const { code, out } = await run(['--suite', 'sst286', '--dir', sample(['00', '9D', 'F6.7'], 10)]);
    const lines = out.trimEnd().split('\n');
    expect(lines.at(-1)).toBe('30 passed, 0 failed');
    expect(lines.at(-2)).toBe('0 failures unexplained');
    expect(out).toMatch(/^model 80286: /m);
    expect(code).toBe(0);
  });

  it('--model i686 fails where the i686 differs, each failure named by its documented difference', async () => {
    // The first 10 POPF cases pop IOPL/NT bits: 8 of them leave a bit set on the i686.
    const { code, out } = await run(['--suite', 'sst286', '--model', 'i686', '--dir', sample(['00', '9D'], 10)]);
    expect(out).toMatch(/^9D: 8\/10 failed \(real-mode-flags-12-15: 8\), e\.g\. #0 popf: flags /m);
    expect(out).toMatch(/^ {2}real-mode-flags-12-15: 8$/m);
    const lines = out.trimEnd().split('\n');
    expect(lines.at(-2)).toBe('0 failures unexplained');
    expect(lines.at(-1)).toBe('12 passed, 8 failed');
    expect(code).toBe(0);
  });

  it('reports a case the CPU gets wrong on its form line', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sst286-'));
    dirs.push(dir);
    const first = JSON.parse(gunzipSync(readFileSync(join(VECTORS, '00.json.gz'))).toString('utf8').split('\n')[0]);
    first.final.regs.ip = (first.final.regs.ip + 1) & 0xffff; // a wrong expectation
    writeFileSync(join(dir, '00.json.gz'), gzipSync(JSON.stringify(first)));
    const { code, out } = await run(['--suite', 'sst286', '--dir', dir]);
    expect(out).toMatch(/^00: 1\/1 failed \(unexplained: 1\), e\.g\. #0 /m);
    const lines = out.trimEnd().split('\n');
    expect(lines.at(-2)).toBe('1 failures unexplained');
    expect(lines.at(-1)).toBe('0 passed, 1 failed');
    expect(code).toBe(1);
  });

  it('rejects an unknown suite or model', async () => {
    vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    expect((await run(['--suite', 'nope'])).code).toBe(2);
    expect((await run(['--suite', 'sst286', '--model', '8086'])).code).toBe(2);
  });
});
