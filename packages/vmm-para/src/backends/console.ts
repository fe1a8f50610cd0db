// The PV console's back end (xenconsoled's job): the xencons_interface page (io/console.h) shared
// with the guest, out[2048] to the host, in[1024] from it, free-running 32-bit indices. Indices that
// claim more than the ring holds are a corrupt ring: refused and counted, never followed.
import type { PhysicalMemory } from '@ringvisor/mmu';
import type { PvConsoleHost } from '@ringvisor/vmm-api';

const IN = 0;
const IN_SIZE = 1024;
const OUT = 1024;
const OUT_SIZE = 2048;
const IN_CONS = 3072;
const IN_PROD = 3076;
const OUT_CONS = 3080;
const OUT_PROD = 3084;
/** Host input held while the guest's ring is full; beyond it input is dropped, as a UART overruns. */
const MAX_PENDING_INPUT = 64 * 1024;

export interface ConsoleEvents {
  /** Tell the guest (event on the console port). */
  notify(): void;
  /** The guest broke the ring protocol. */
  refuse(): void;
  countRequest(): void;
}

export class ConsoleBackend {
  private pending: number[] = [];
  private readonly chunk = new Uint8Array(OUT_SIZE);

  constructor(
    private readonly memory: PhysicalMemory,
    private readonly page: number,
    private readonly host: PvConsoleHost,
    private readonly events: ConsoleEvents,
  ) {}

  /** The guest notified its port: drain its output, offer queued input. */
  kick(): void {
    this.drainOutput();
    this.fillInput();
  }

  /** Host output room came back. */
  outputRoom(): void {
    this.drainOutput();
  }

  private drainOutput(): void {
    const m = this.memory;
    const cons = m.read32(this.page + OUT_CONS) >>> 0;
    const prod = m.read32(this.page + OUT_PROD) >>> 0;
    const used = (prod - cons) >>> 0;
    if (used === 0) return;
    if (used > OUT_SIZE) {
      // A corrupt ring: skip what the guest claims, as xenconsoled disconnects rather than read past it.
      this.events.refuse();
      m.write32(this.page + OUT_CONS, prod);
      return;
    }
    this.events.countRequest();
    for (let i = 0; i < used; i++) this.chunk[i] = m.read8(this.page + OUT + ((cons + i) % OUT_SIZE));
    const taken = this.host.write(this.chunk.subarray(0, used));
    m.write32(this.page + OUT_CONS, (cons + taken) >>> 0);
    if (taken > 0) this.events.notify();
  }

  /** Host bytes for the guest: as many as its ring takes now, the rest queued (bounded). */
  input(bytes: Uint8Array): number {
    const room = MAX_PENDING_INPUT - this.pending.length;
    const n = Math.min(room, bytes.length);
    for (let i = 0; i < n; i++) this.pending.push(bytes[i]);
    this.fillInput();
    return n;
  }

  private fillInput(): void {
    if (this.pending.length === 0) return;
    const m = this.memory;
    const cons = m.read32(this.page + IN_CONS) >>> 0;
    let prod = m.read32(this.page + IN_PROD) >>> 0;
    const used = (prod - cons) >>> 0;
    if (used > IN_SIZE) {
      this.events.refuse();
      return;
    }
    let moved = 0;
    while (moved < this.pending.length && ((prod - cons) >>> 0) < IN_SIZE) {
      m.write8(this.page + IN + (prod % IN_SIZE), this.pending[moved++]);
      prod = (prod + 1) >>> 0;
    }
    if (moved === 0) return;
    this.pending.splice(0, moved);
    m.write32(this.page + IN_PROD, prod);
    this.events.notify();
  }
}
