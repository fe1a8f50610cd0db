/** A command-line mistake: printed as one line, exit status 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export interface OptionSpec {
  /** Long name without dashes. */
  readonly name: string;
  /** Placeholder of its value (`SIZE`, `FILE`), or absent for a flag. */
  readonly value?: string;
  readonly help: string;
}

export interface ParsedArgs {
  readonly options: ReadonlyMap<string, string | true>;
  readonly positional: readonly string[];
}

/**
 * Parses `--name value`, `--name=value` and flags against `specs`; `-h` is `--help`. Everything
 * after `--` is positional. Unknown options and missing values are usage errors.
 */
export function parseArgs(argv: readonly string[], specs: readonly OptionSpec[], command: string): ParsedArgs {
  const byName = new Map(specs.map((spec) => [spec.name, spec]));
  const options = new Map<string, string | true>();
  const positional: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--') {
      positional.push(...argv.slice(i + 1));
      break;
    }
    if (arg === '-h') {
      options.set('help', true);
      continue;
    }
    if (!arg.startsWith('-') || arg === '-') {
      positional.push(arg);
      continue;
    }
    if (!arg.startsWith('--')) throw new UsageError(`unknown option ${arg} (see ${command} --help)`);
    const eq = arg.indexOf('=');
    const name = arg.slice(2, eq < 0 ? undefined : eq);
    const spec = byName.get(name);
    if (!spec) throw new UsageError(`unknown option --${name} (see ${command} --help)`);
    if (!spec.value) {
      if (eq >= 0) throw new UsageError(`option --${name} takes no value`);
      options.set(name, true);
      continue;
    }
    let value: string | undefined;
    if (eq >= 0) value = arg.slice(eq + 1);
    else if (i + 1 < argv.length) value = argv[++i];
    if (value === undefined || value === '') throw new UsageError(`option --${name} needs a value: --${name} ${spec.value}`);
    options.set(name, value);
  }
  return { options, positional };
}

/** `  --name VALUE   help` lines, aligned. */
export function formatOptions(specs: readonly OptionSpec[]): string {
  const left = specs.map((spec) => `  --${spec.name}${spec.value ? ` ${spec.value}` : ''}`);
  const width = Math.max(...left.map((text) => text.length)) + 2;
  return specs.map((spec, i) => left[i].padEnd(width) + spec.help.replace(/\n/g, `\n${' '.repeat(width)}`)).join('\n');
}
