// One minikernel VM driven through its serial console: wait for the shell's prompt, type a command,
// wait for its answer and the next prompt. The VM runs in hypervisor-type2's worker; statistics come
// from HostedVm.stats(), the snapshot `ringvisor run --stats` prints.
import { GUESTS, readGuestImage } from '@ringvisor/guests';
import { HostedVm, type StatsSnapshot } from '@ringvisor/hypervisor-type2';
import type { CompareStrategy } from './strategies.js';

const PROMPT = '\n$ ';
const MEMORY = 64 << 20;

export class GuestSession {
  private output = '';
  private waiter: (() => void) | null = null;

  private constructor(private readonly vm: HostedVm) {}

  /** Boots the strategy's build of minikernel on a host clock and waits for the shell. */
  static async start(strategy: CompareStrategy, limitSeconds: number): Promise<GuestSession> {
    const image = readGuestImage(GUESTS[strategy.guest].name);
    let session: GuestSession | null = null;
    const early: string[] = [];
    const vm = await HostedVm.start({
      strategy: strategy.entry,
      machine: { memory: MEMORY, boot: strategy.guest === 'minikernel-pv' ? { kind: 'xen-pv', image } : { kind: 'multiboot', image } },
      // The guests' TSC then counts wall time (see CompareStrategy.nsPerTick).
      clock: 'host',
      serial: { kind: 'console', write: (bytes) => { const text = Buffer.from(bytes).toString('latin1'); if (session) session.take(text); else early.push(text); } },
    });
    session = new GuestSession(vm);
    for (const text of early) session.take(text);
    await session.until((out) => out.endsWith(PROMPT), limitSeconds, 'the shell prompt');
    return session;
  }

  private take(text: string): void {
    this.output += text;
    this.waiter?.();
  }

  /** Resolves once `done(output so far)` holds; rejects after `limitSeconds` or when the VM ends. */
  private until(done: (output: string) => boolean, limitSeconds: number, what: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        if (!done(this.output)) return;
        cleanup();
        resolve(this.output);
      };
      const timer = setTimeout(() => { cleanup(); reject(new Error(`no ${what} within ${limitSeconds} s: ${this.output.slice(-200)}`)); }, limitSeconds * 1000);
      const cleanup = (): void => { clearTimeout(timer); this.waiter = null; };
      void this.vm.done.then((report) => { cleanup(); reject(new Error(`the VM ended (${report.end.reason}) waiting for ${what}`)); });
      this.waiter = check;
      check();
    });
  }

  /** Types `line` and returns what the guest printed up to the next prompt, and the wall time. */
  async command(line: string, limitSeconds: number): Promise<{ text: string; ms: number }> {
    const start = this.output.length;
    const t0 = performance.now();
    this.vm.sendSerial(Buffer.from(`${line}\n`, 'latin1'));
    const out = await this.until((o) => o.length > start + line.length && o.endsWith(PROMPT), limitSeconds, `answer to '${line}'`);
    return { text: out.slice(start), ms: performance.now() - t0 };
  }

  stats(): Promise<StatsSnapshot> {
    return this.vm.stats();
  }

  async stop(): Promise<void> {
    this.vm.stop();
    await this.vm.done;
  }
}
