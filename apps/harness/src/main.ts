// `harness <command>`: Ringvisor's conformance and benchmark commands. One line per command; each
// command lives in its own file and returns the process exit code.
import { benchBoot } from './bench-boot.js';
import { benchCpu } from './bench-cpu.js';
import { benchExits } from './bench-exits.js';
import { benchLinux } from './bench-linux.js';
import { benchSched } from './bench-sched.js';
import { benchXz } from './bench-xz.js';
import { compare } from './compare.js';
import { conformance } from './conformance.js';
import { profileLinux } from './profile-linux.js';

type Command = (args: readonly string[]) => Promise<number>;

const COMMANDS: Record<string, Command> = {
  conformance,
  compare,
  'bench cpu': benchCpu,
  'bench boot': benchBoot,
  'bench exits': benchExits,
  'bench linux': benchLinux,
  'bench sched': benchSched,
  'bench xz': benchXz,
  'profile linux': profileLinux,
};

async function main(argv: readonly string[]): Promise<number> {
  const two = `${argv[0]} ${argv[1]}`;
  if (COMMANDS[two]) return COMMANDS[two](argv.slice(2));
  if (argv[0] !== undefined && COMMANDS[argv[0]]) return COMMANDS[argv[0]](argv.slice(1));
  process.stderr.write(`Usage: harness <command>\nCommands: ${Object.keys(COMMANDS).join(', ')}\n`);
  return 2;
}

process.exitCode = await main(process.argv.slice(2));
