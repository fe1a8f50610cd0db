import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { Sst286Runner, type SstCase } from '../src/conformance/sst286.js';

// A fast sample of the SingleStepTests 80286 real-mode vectors: the first 20 cases of every form.
// Every case must match the 286 exactly or fall under a documented 286/686 difference.
// (`pnpm harness conformance --suite sst286` runs all of them.)

const DIR = resolve(import.meta.dirname, '../../../../shared/conformance/80286-real-mode');
const SAMPLE = 20;
const present = existsSync(DIR);
if (!present) console.warn(`sst286 sample skipped: ${DIR} is missing`);

describe.skipIf(!present)('SingleStepTests 80286 real mode (sample)', () => {
  it(`runs the first ${SAMPLE} cases of every form with no unexplained failure`, () => {
    const runner = new Sst286Runner();
    const failures: string[] = [];
    let cases = 0;
    for (const file of readdirSync(DIR).filter((f) => f.endsWith('.json.gz')).sort()) {
      const lines = gunzipSync(readFileSync(resolve(DIR, file))).toString('utf8').split('\n', SAMPLE);
      for (const line of lines) {
        if (!line) continue;
        const c = JSON.parse(line) as SstCase;
        cases++;
        const result = runner.run(c);
        if (result.verdict === 'fail') failures.push(`${file} #${c.idx} ${c.name}: ${result.mismatches.join('; ')}`);
      }
    }
    expect(cases).toBeGreaterThan(6000);
    expect(failures).toEqual([]);
  });
});
