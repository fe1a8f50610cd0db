import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { Sst286Runner, type SstCase } from '../src/conformance/sst286.js';

// A fast sample of the SingleStepTests 80286 real-mode vectors: the first 20 cases of every form, on
// both CPU models. The '80286' model must match the 286 exactly on every case; the i686 must match
// exactly or fail in a way a documented 286/686 difference explains.
// (`pnpm harness conformance --suite sst286 [--model i686]` runs all of them.)

const DIR = resolve(import.meta.dirname, '../../../../shared/conformance/80286-real-mode');
const SAMPLE = 20;
const present = existsSync(DIR);
if (!present) console.warn(`sst286 sample skipped: ${DIR} is missing`);

function sample(): { file: string; c: SstCase }[] {
  const cases: { file: string; c: SstCase }[] = [];
  for (const file of readdirSync(DIR).filter((f) => f.endsWith('.json.gz')).sort()) {
    const lines = gunzipSync(readFileSync(resolve(DIR, file))).toString('utf8').split('\n', SAMPLE);
    for (const line of lines) if (line) cases.push({ file, c: JSON.parse(line) as SstCase });
  }
  return cases;
}

describe.skipIf(!present)('SingleStepTests 80286 real mode (sample)', () => {
  const cases = present ? sample() : [];

  it(`the 80286 model matches the 286 exactly on the first ${SAMPLE} cases of every form`, () => {
    const runner = new Sst286Runner();
    expect(runner.model).toBe('80286');
    const failures: string[] = [];
    for (const { file, c } of cases) {
      const result = runner.run(c);
      if (result.verdict !== 'pass') failures.push(`${file} #${c.idx} ${c.name}: ${result.mismatches.join('; ')}`);
    }
    expect(cases.length).toBeGreaterThan(6000);
    expect(failures).toEqual([]);
  });

  it('the i686 fails only where a documented difference explains it', () => {
    const runner = new Sst286Runner({ model: 'i686' });
    const unexplained: string[] = [];
    let differences = 0;
    for (const { file, c } of cases) {
      const result = runner.run(c);
      if (result.verdict === 'fail') unexplained.push(`${file} #${c.idx} ${c.name}: ${result.mismatches.join('; ')}`);
      if (result.verdict === 'difference') differences++;
    }
    expect(unexplained).toEqual([]);
    // The sample does reach the differences (LOCK, POPF/IRET, ... all occur in the first 20 of their forms).
    expect(differences).toBeGreaterThan(100);
  });
});
