// Drives the built `ringvisor` command the way a user does: a child process with pipes (or a
// pseudo-terminal through util-linux `script`), reading what it prints.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const CLI = fileURLToPath(new URL('../dist/main.js', import.meta.url));

export interface Running {
  readonly child: ChildProcessWithoutNullStreams;
  stdout(): string;
  stderr(): string;
  /** Resolves once stdout contains `text` (rejects with what was seen after `ms`). */
  waitFor(text: string, ms?: number): Promise<void>;
  type(text: string): void;
  exit: Promise<number | null>;
}

function drive(child: ChildProcessWithoutNullStreams): Running {
  let out = '';
  let err = '';
  const waiters: { text: string; resolve: () => void }[] = [];
  const check = () => {
    for (const waiter of waiters.splice(0)) {
      if (out.includes(waiter.text)) waiter.resolve();
      else waiters.push(waiter);
    }
  };
  child.stdout.on('data', (chunk: Buffer) => { out += chunk.toString('latin1'); check(); });
  child.stderr.on('data', (chunk: Buffer) => { err += chunk.toString('latin1'); });
  const exit = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    exit,
    type: (text) => child.stdin.write(text),
    waitFor: (text, ms = 20_000) => new Promise((resolve, reject) => {
      if (out.includes(text)) return resolve();
      const timer = setTimeout(() => reject(new Error(`no '${text}' after ${ms} ms; stdout: ${JSON.stringify(out.slice(-400))}; stderr: ${JSON.stringify(err)}`)), ms);
      waiters.push({ text, resolve: () => { clearTimeout(timer); resolve(); } });
      void exit.then(() => { clearTimeout(timer); if (!out.includes(text)) reject(new Error(`exited without '${text}'; stdout: ${JSON.stringify(out.slice(-400))}; stderr: ${JSON.stringify(err)}`)); });
    }),
  };
}

/** `ringvisor ARGS` with stdin, stdout and stderr on pipes. */
export function ringvisor(args: readonly string[]): Running {
  return drive(spawn(process.execPath, [CLI, ...args], { stdio: 'pipe' }));
}

/** `ringvisor ARGS` on a pseudo-terminal (its stdout carries the terminal's output). */
export function ringvisorOnTerminal(args: readonly string[]): Running {
  const command = [process.execPath, CLI, ...args].map((word) => `'${word.replace(/'/g, "'\\''")}'`).join(' ');
  return drive(spawn('script', ['-qfec', command, '/dev/null'], { stdio: 'pipe', env: { ...process.env, TERM: 'dumb' } }));
}

/** Runs to completion and returns status and output. */
export async function ringvisorDone(args: readonly string[], input?: string): Promise<{ status: number | null; stdout: string; stderr: string }> {
  const run = ringvisor(args);
  if (input !== undefined) run.child.stdin.end(input);
  const status = await run.exit;
  return { status, stdout: run.stdout(), stderr: run.stderr() };
}
