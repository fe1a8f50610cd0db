// `ringvisor type1 PLATFORM.json`: boots the type-1 hypervisor on its platform file, serves `xl` on
// the control socket and multiplexes the hypervisor's log and the domains' consoles on stdout.
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ControlServer, parsePlatform, PlatformError, Type1Hypervisor, type Domain, type PlatformConfig } from '@ringvisor/hypervisor-type1';
import { UsageError } from './args.js';
import { STRATEGIES } from './strategies.js';

/** Where `type1` listens and `xl` connects when neither the platform nor the command names a socket. */
export function defaultControlSocket(): string {
  return process.env.RINGVISOR_CONTROL ?? join(tmpdir(), 'ringvisor-type1.sock');
}

export const TYPE1_HELP = `Usage: ringvisor type1 PLATFORM.json [--control PATH]

Boots Ringvisor's bare-metal (type 1) hypervisor on the emulated platform PLATFORM.json describes
(pCPUs, the RAM pool, domains; schema in @ringvisor/hypervisor-type1's README) and starts its
autostart domains. Manage it from another terminal with 'ringvisor xl' (see ringvisor xl --help).

Options:
  --control PATH  control socket (default: the platform's "control", else $RINGVISOR_CONTROL,
                  else ${join('$TMPDIR', 'ringvisor-type1.sock')})
  --help          show this help

Console: lines from the hypervisor start with "(type1)", each domain's output with "[NAME]".
Keys on a terminal (Ctrl-A then):
  1..9   type into the console of the domain with that ID
  0      type into nothing (the default)
  l      list the domains
  x      stop the hypervisor and every domain
  h      this help
`;

const KEYS_HELP = ['Ctrl-A 1..9 console of domain N, 0 none, l list, x stop, h help'];

/** Domain output goes out a line at a time, prefixed; a line left open goes out after a pause (prompts). */
class Multiplexer {
  private readonly partial = new Map<number, { name: string; text: string; timer: ReturnType<typeof setTimeout> | null }>();

  constructor(private readonly out: (text: string) => void) {}

  log(line: string): void {
    this.out(`(type1) ${line}\n`);
  }

  domain(domain: Domain, bytes: Uint8Array): void {
    const entry = this.partial.get(domain.id) ?? { name: domain.name, text: '', timer: null };
    this.partial.set(domain.id, entry);
    entry.text += Buffer.from(bytes).toString('latin1').replace(/\r/g, '');
    let newline: number;
    while ((newline = entry.text.indexOf('\n')) >= 0) {
      this.out(`[${entry.name}] ${entry.text.slice(0, newline)}\n`);
      entry.text = entry.text.slice(newline + 1);
    }
    if (entry.timer !== null) clearTimeout(entry.timer);
    entry.timer = entry.text === '' ? null : setTimeout(() => {
      entry.timer = null;
      if (entry.text !== '') this.out(`[${entry.name}] ${entry.text}\n`);
      entry.text = '';
    }, 200);
  }
}

export async function type1Command(argv: readonly string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(TYPE1_HELP);
    return 0;
  }
  let file: string | undefined;
  let control: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--control') {
      control = argv[++i];
      if (control === undefined) throw new UsageError('--control needs a PATH');
    } else if (argv[i].startsWith('-')) throw new UsageError(`unknown option ${argv[i]} (see ringvisor type1 --help)`);
    else if (file === undefined) file = argv[i];
    else throw new UsageError(`unexpected argument '${argv[i]}' (one PLATFORM.json)`);
  }
  if (file === undefined) throw new UsageError('ringvisor type1 needs a PLATFORM.json (see ringvisor type1 --help)');
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new Error(`cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  let platform: PlatformConfig;
  try {
    platform = parsePlatform(text, file);
  } catch (error) {
    if (!(error instanceof PlatformError)) throw error;
    // Every bad field on its own line.
    process.stderr.write(error.problems.map((problem) => `ringvisor: ${file}: ${problem}\n`).join(''));
    return 1;
  }
  const mux = new Multiplexer((s) => process.stdout.write(process.stdin.isTTY ? s.replace(/\n/g, '\r\n') : s));
  const hv = await Type1Hypervisor.start({
    platform, strategies: STRATEGIES, log: (line) => mux.log(line), console: (domain, bytes) => mux.domain(domain, bytes),
  });
  const socketPath = control ?? platform.control ?? defaultControlSocket();
  let server: ControlServer;
  try {
    server = await ControlServer.listen(hv, socketPath);
  } catch (error) {
    await hv.shutdown();
    throw error;
  }
  mux.log(`${platform.pcpus} pCPUs, ${platform.memoryMiB} MiB pool (${hv.pool.freeFrames} frames free); xl control socket ${socketPath}`);
  return new Promise((resolve) => {
    let focus = 0;
    let escape = false;
    const stop = async () => {
      process.stdin.off('data', onKeys);
      if (process.stdin.isTTY) process.stdin.setRawMode(false);
      process.stdin.pause();
      await server.close();
      await hv.shutdown();
      mux.log('stopped');
      resolve(0);
    };
    const onKeys = (chunk: Buffer) => {
      for (const byte of chunk) {
        if (escape) {
          escape = false;
          const key = String.fromCharCode(byte);
          if (key >= '0' && key <= '9') {
            focus = Number(key);
            mux.log(focus === 0 ? 'input goes nowhere' : `input goes to domain ${focus}`);
          } else if (key === 'l') {
            for (const d of hv.list()) mux.log(`${d.id} ${d.name} ${d.state} ${d.cpuSeconds.toFixed(1)} s${d.end ? ` (${d.end})` : ''}`);
          } else if (key === 'x') {
            void stop();
            return;
          } else {
            for (const line of KEYS_HELP) mux.log(line);
          }
        } else if (byte === 0x01) {
          escape = true;
        } else if (focus !== 0) {
          try {
            hv.consoleInput(hv.find(focus), Uint8Array.of(byte));
          } catch {
            mux.log(`no domain ${focus}`);
            focus = 0;
          }
        }
      }
    };
    if (process.stdin.isTTY) process.stdin.setRawMode(true);
    process.stdin.on('data', onKeys);
    process.once('SIGINT', () => void stop());
    process.once('SIGTERM', () => void stop());
  });
}
