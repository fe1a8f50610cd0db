// `harness compare [--quick] [--out DIR]`: every workload under every strategy that can run it here,
// one table, compare.json and compare.svg in DIR. Workloads: minikernel's nanobenchmarks (bare
// build; the Xen PV build under para) and, without --quick or --no-linux, Debian's Linux: its boot
// to the init marker and the macro workloads in that booted guest (compare/linux-session.ts).
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join, resolve } from 'node:path';
import { GuestSession } from './compare/guest-session.js';
import { linuxRows } from './compare/linux-session.js';
import { modeledCycles } from './compare/model.js';
import { NANOBENCHES, runNanobench } from './compare/nanobench.js';
import { MODEL_INFO, type CompareReport, type ResultRow } from './compare/report.js';
import { COMPARE_STRATEGIES, whyNot } from './compare/strategies.js';
import { compareSvg } from './compare/svg.js';
import { formatTable } from './compare/table.js';

const BOOT_LIMIT_S = 600;

interface Options { quick: boolean; out: string; linux: boolean }

function parse(args: readonly string[]): Options | string {
  const options: Options = { quick: false, out: '.', linux: true };
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '--quick') options.quick = true;
    else if (a === '--no-linux') options.linux = false;
    else if (a === '--out' && args[i + 1] !== undefined) options.out = args[++i];
    else return `compare: unknown argument '${a}' (--quick, --no-linux, --out DIR)`;
  }
  if (options.quick) options.linux = false;
  return options;
}

/** Runs the comparison; the report is also what compare.json holds. */
export async function runCompare(options: Options, log: (line: string) => void): Promise<CompareReport> {
  const strategies: CompareReport['strategies'][number][] = [];
  const ranHere: { strategy: (typeof COMPARE_STRATEGIES)[number]; ran: boolean; skipped?: string }[] = [];
  const rows: ResultRow[] = [];
  for (const strategy of COMPARE_STRATEGIES) {
    const name = strategy.entry.name;
    const reason = await whyNot(strategy);
    if (reason !== null) {
      log(`${name}: skipped (${reason})`);
      strategies.push({ name, guest: strategy.guest, ran: false, skipped: reason });
      ranHere.push({ strategy, ran: false, skipped: reason });
      continue;
    }
    log(`${name}: booting ${strategy.guest}`);
    const session = await GuestSession.start(strategy, BOOT_LIMIT_S);
    try {
      for (const bench of NANOBENCHES) {
        const r = await runNanobench(session, strategy, bench, options.quick);
        rows.push('unsupported' in r
          ? { ...r, strategy: name, label: bench.label }
          : { ...r, strategy: name, label: bench.label, modeledCycles: modeledCycles(r.events), ratioToNone: null });
        log(`${name}: ${bench.name} ${'hostNs' in r ? `${r.hostNs.toFixed(0)} ns/op` : 'unsupported'}`);
      }
    } finally {
      await session.stop();
    }
    strategies.push({ name, guest: strategy.guest, ran: true });
    ranHere.push({ strategy, ran: true });
  }
  const results = NANOBENCHES.flatMap((bench) => rows.filter((r) => r.benchmark === bench.name)).map((r): ResultRow => {
    if ('unsupported' in r) return r;
    const none = rows.find((x) => x.benchmark === r.benchmark && x.strategy === 'none');
    return { ...r, ratioToNone: none && 'hostNs' in none && none.hostNs > 0 ? r.hostNs / none.hostNs : null };
  });
  const linux = options.linux ? await linuxRows(ranHere, log) : [];
  return {
    command: `harness compare${options.quick ? ' --quick' : options.linux ? '' : ' --no-linux'}`,
    date: new Date().toISOString(),
    quick: options.quick,
    host: { node: process.version, platform: `${process.platform} ${process.arch}`, cpus: cpus().length },
    strategies, model: MODEL_INFO, results, linux,
  };
}

export async function compare(args: readonly string[]): Promise<number> {
  const options = parse(args);
  if (typeof options === 'string') {
    console.error(options);
    return 2;
  }
  const report = await runCompare(options, (line) => process.stderr.write(`${line}\n`));
  const out = resolve(options.out);
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, 'compare.json'), `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(join(out, 'compare.svg'), compareSvg(report));
  const lines = formatTable(report);
  for (const s of report.strategies) if (!s.ran) lines.push(`${s.name}: skipped (${s.skipped})`);
  lines.push(`wrote ${join(out, 'compare.json')} and ${join(out, 'compare.svg')}`);
  process.stdout.write(`${lines.join('\n')}\n`);
  return 0;
}
