// `harness conformance --suite sst286 [--dir DIR]`: runs the SingleStepTests 80286 real-mode vectors
// on x86-core and prints one line per instruction form with failures, then `N passed, M failed`.
// A case counts as passed when the CPU matches the 286's result exactly, or differs only as one of
// the documented and tested 286-versus-686 differences (x86-core `SST286_DIFFERENCES`).
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { SST286_DIFFERENCES, Sst286Runner, type SstCase } from '@ringvisor/x86-core';

/** The repository root (apps/harness/dist/main.js → ../../..). */
const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const DEFAULT_DIR = resolve(REPO_ROOT, '../shared/conformance/80286-real-mode');

function option(args: readonly string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}

export async function conformance(args: readonly string[]): Promise<number> {
  const suite = option(args, '--suite') ?? 'sst286';
  if (suite !== 'sst286') {
    process.stderr.write(`harness conformance: unknown suite '${suite}' (known: sst286)\n`);
    return 2;
  }
  const dir = resolve(option(args, '--dir') ?? DEFAULT_DIR);
  let files: string[];
  try {
    files = readdirSync(dir).filter((f) => f.endsWith('.json.gz')).sort();
  } catch (e) {
    process.stderr.write(`harness conformance: cannot read ${dir}: ${(e as Error).message}\n`);
    return 2;
  }
  const runner = new Sst286Runner();
  let passed = 0;
  let failed = 0;
  const byDifference = new Map<string, number>();
  for (const file of files) {
    const lines = gunzipSync(readFileSync(resolve(dir, file))).toString('utf8').split('\n').filter(Boolean);
    let formFailed = 0;
    let example = '';
    for (const line of lines) {
      const c = JSON.parse(line) as SstCase;
      const result = runner.run(c);
      if (result.verdict === 'fail') {
        formFailed++;
        if (!example) example = `#${c.idx} ${c.name}: ${result.mismatches.join('; ')}`;
        continue;
      }
      passed++;
      if (result.difference) byDifference.set(result.difference, (byDifference.get(result.difference) ?? 0) + 1);
    }
    failed += formFailed;
    if (formFailed > 0) process.stdout.write(`${file.replace('.json.gz', '')}: ${formFailed}/${lines.length} failed, e.g. ${example}\n`);
  }
  const differences = [...byDifference.values()].reduce((a, b) => a + b, 0);
  process.stdout.write(`${passed - differences} exact matches; ${differences} match a documented 286/686 difference:\n`);
  for (const d of SST286_DIFFERENCES) process.stdout.write(`  ${d.id}: ${byDifference.get(d.id) ?? 0}\n`);
  process.stdout.write(`${passed} passed, ${failed} failed\n`);
  return failed === 0 ? 0 : 1;
}
