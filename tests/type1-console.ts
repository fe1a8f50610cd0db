// `ringvisor type1 PLATFORM.json` driven as a user drives it, for the type-1 tests: its multiplexed
// console (each domain's lines prefixed `[name] `, Ctrl-A N switching the input to domain N) and
// `ringvisor xl` against its control socket.
import { spawn, spawnSync } from 'node:child_process';
import { join, resolve } from 'node:path';

const cli = join(resolve(import.meta.dirname, '..'), 'apps', 'cli', 'dist', 'main.js');

export function startType1(platformFile: string, socket: string, deadlineMs: number) {
  const started = Date.now();
  const child = spawn(process.execPath, [cli, 'type1', platformFile], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  const waiters: (() => void)[] = [];
  child.stdout.on('data', (b: Buffer) => { out += b.toString('latin1'); waiters.splice(0).forEach((w) => w()); });
  child.stderr.on('data', (b: Buffer) => { err += b.toString('latin1'); });
  child.on('exit', () => waiters.splice(0).forEach((w) => w()));
  const deadline = started + deadlineMs;
  const xl = (...args: string[]) => spawnSync(process.execPath, [cli, 'xl', '-s', socket, ...args], { encoding: 'utf8', timeout: 60_000 });
  /** Before the test's own timeout: a failure that shows the consoles and the domains' states. */
  const stuck = (pattern: RegExp): Error => {
    const list = xl('list');
    return new Error(`no ${pattern} after ${((Date.now() - started) / 1000).toFixed(0)} s\n${list.stdout}${list.stderr}\n${out.slice(-3000)}`);
  };
  /** Resolves once `pattern` matches the console (from `from` on); the index after the match. */
  const waitFor = (pattern: RegExp, from = 0) => new Promise<number>((done, fail) => {
    const timer = setTimeout(() => fail(stuck(pattern)), Math.max(0, deadline - Date.now()));
    const check = (): void => {
      const match = pattern.exec(out.slice(from));
      if (match) {
        clearTimeout(timer);
        done(from + match.index + match[0].length);
      } else if (child.exitCode !== null) {
        clearTimeout(timer);
        fail(new Error(`type1 ended before ${pattern}: ${err.trim()}\n${out.slice(-3000)}`));
      } else waiters.push(check);
    };
    check();
  });
  return {
    started,
    waitFor,
    xl,
    output: () => out,
    /** Types `line` at domain `id`'s console; its output lines must include each answer, in order. */
    ask: async (id: number, name: string, line: string, answers: readonly string[]) => {
      let from = out.length;
      child.stdin.write(`\x01${id}`);
      child.stdin.write(`${line}\n`);
      for (const answer of answers) from = await waitFor(new RegExp(`^\\[${name}\\] ${answer}$`, 'm'), from);
    },
    /** Ctrl-A x: the hypervisor shuts down; resolves with its exit status. */
    quit: () => {
      child.stdin.write('\x01x');
      return new Promise<number | null>((done) => { if (child.exitCode !== null) done(child.exitCode); else child.once('exit', done); });
    },
    kill: () => { if (child.exitCode === null) child.kill('SIGKILL'); },
  };
}
