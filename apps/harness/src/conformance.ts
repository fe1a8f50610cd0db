// `harness conformance --suite sst286 [--dir DIR] [--model 80286|i686]`: runs the SingleStepTests 80286
// real-mode vectors on x86-core and prints one line per instruction form with failures, the failures
// each documented 286-versus-686 difference explains, how many no difference explains, and last
// `N passed, M failed`. A case passes only when the CPU matches the 286 exactly. The model is x86-core's
// '80286' by default (the i686 core with the 286's real-mode differences); `--model i686` runs the
// product's CPU, whose failures the full difference list (x86-core `SST286_DIFFERENCES`) explains.
// Exit code 1 when any failure is unexplained.
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { type CpuModel, Sst286Runner, type SstCase, differencesOn } from '@ringvisor/x86-core';

/** The repository root (apps/harness/dist/main.js → ../../..). */
const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const DEFAULT_DIR = resolve(REPO_ROOT, '../shared/conformance/80286-real-mode');
const MODELS: readonly CpuModel[] = ['80286', 'i686'];

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
  const model = (option(args, '--model') ?? '80286') as CpuModel;
  if (!MODELS.includes(model)) {
    process.stderr.write(`harness conformance: unknown model '${model}' (known: ${MODELS.join(', ')})\n`);
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
  const runner = new Sst286Runner({ model });
  let passed = 0;
  let failed = 0;
  let unexplained = 0;
  const byDifference = new Map<string, number>();
  for (const file of files) {
    const lines = gunzipSync(readFileSync(resolve(dir, file))).toString('utf8').split('\n').filter(Boolean);
    const formDifferences = new Map<string, number>();
    let formFailed = 0;
    let formUnexplained = 0;
    let example = '';
    for (const line of lines) {
      const c = JSON.parse(line) as SstCase;
      const result = runner.run(c);
      if (result.verdict === 'pass') {
        passed++;
        continue;
      }
      formFailed++;
      const id = result.difference;
      if (id === undefined) formUnexplained++;
      else formDifferences.set(id, (formDifferences.get(id) ?? 0) + 1);
      // The example is an unexplained failure when the form has one.
      if (!example || (id === undefined && formUnexplained === 1)) {
        example = `#${c.idx} ${c.name}: ${result.mismatches.join('; ')}`;
      }
    }
    failed += formFailed;
    unexplained += formUnexplained;
    for (const [id, n] of formDifferences) byDifference.set(id, (byDifference.get(id) ?? 0) + n);
    if (formFailed > 0) {
      const why = [...formDifferences].map(([id, n]) => `${id}: ${n}`);
      if (formUnexplained > 0) why.push(`unexplained: ${formUnexplained}`);
      process.stdout.write(
        `${file.replace('.json.gz', '')}: ${formFailed}/${lines.length} failed (${why.join(', ')}), e.g. ${example}\n`,
      );
    }
  }
  const remaining = differencesOn(model);
  process.stdout.write(`model ${model}: ${remaining.length} documented 286/686 differences remain on it`);
  process.stdout.write(remaining.length > 0 ? '; failures they explain:\n' : '\n');
  for (const d of remaining) process.stdout.write(`  ${d.id}: ${byDifference.get(d.id) ?? 0}\n`);
  process.stdout.write(`${unexplained} failures unexplained\n`);
  process.stdout.write(`${passed} passed, ${failed} failed\n`);
  return unexplained === 0 ? 0 : 1;
}
