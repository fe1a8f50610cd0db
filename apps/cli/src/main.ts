import { createRequire } from 'node:module';
import { UsageError } from './args.js';
import { bundledGuestList, bundledGuestNames } from './bundled-guests.js';
import { GUESTS_HELP, MAIN_HELP, runHelp, VMMS_HELP } from './help.js';
import { runCommand } from './run-command.js';
import { describeStrategies } from './strategies.js';
import { TYPE1_HELP, type1Command } from './type1-command.js';
import { XL_HELP, xlCommand } from './xl-command.js';

function version(): string {
  const pkg = createRequire(import.meta.url)('../package.json') as { version: string };
  return pkg.version;
}

function wantsHelp(argv: readonly string[]): boolean {
  return argv.includes('--help') || argv.includes('-h');
}

function noArguments(command: string, argv: readonly string[]): void {
  if (argv.length > 0) throw new UsageError(`unexpected argument '${argv[0]}' for ${command} (see ringvisor ${command} --help)`);
}

async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case undefined:
    case '--help':
    case '-h':
      process.stdout.write(MAIN_HELP);
      return 0;
    case '--version':
      process.stdout.write(`ringvisor ${version()}\n`);
      return 0;
    case 'help': {
      const topic = rest[0];
      const texts: Record<string, string> = {
        run: runHelp(bundledGuestNames()), type1: TYPE1_HELP, xl: XL_HELP, vmms: VMMS_HELP, guests: GUESTS_HELP,
      };
      if (topic === undefined) process.stdout.write(MAIN_HELP);
      else if (texts[topic]) process.stdout.write(texts[topic]);
      else throw new UsageError(`no command '${topic}' (commands: run, type1, xl, vmms, guests, help)`);
      return 0;
    }
    case 'run':
      return runCommand(rest);
    case 'type1':
      return type1Command(rest);
    case 'xl':
      return xlCommand(rest);
    case 'vmms':
      if (wantsHelp(rest)) {
        process.stdout.write(VMMS_HELP);
        return 0;
      }
      noArguments('vmms', rest);
      process.stdout.write((await describeStrategies()).join('\n') + '\n');
      return 0;
    case 'guests':
      if (wantsHelp(rest)) {
        process.stdout.write(GUESTS_HELP);
        return 0;
      }
      noArguments('guests', rest);
      process.stdout.write(bundledGuestList().join('\n') + '\n');
      return 0;
    default:
      throw new UsageError(`unknown command '${command}' (commands: run, type1, xl, vmms, guests, help; see ringvisor --help)`);
  }
}

// Whatever escapes the commands still ends as one line, never a stack trace.
process.on('uncaughtException', (error) => {
  process.stderr.write(`ringvisor: internal error: ${error.message.split('\n')[0]}\n`);
  process.exit(1);
});

main(process.argv.slice(2)).then(
  (status) => process.exit(status),
  (error: unknown) => {
    const message = error instanceof Error ? error.message.split('\n')[0] : String(error);
    process.stderr.write(`ringvisor: ${message}\n`);
    process.exit(error instanceof UsageError ? 2 : 1);
  },
);
