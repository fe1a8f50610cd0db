// The hypervisor's control socket: a local (Unix) socket that `ringvisor xl` connects to.
import { existsSync, unlinkSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import type { Type1Hypervisor } from '../hypervisor.js';
import { parseDomain } from '../platform/validate.js';
import { parseCpuList, type ControlRequest, type ControlResponse, type ControlResult, type ShutdownResult } from './protocol.js';

/** Longest request line taken (an xl create file travels inside one). */
const MAX_REQUEST = 1 << 20;

/** True when something answers on the socket at `path` (another hypervisor). */
function answers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = connect(path);
    probe.once('connect', () => { probe.destroy(); resolve(true); });
    probe.once('error', () => resolve(false));
  });
}

export class ControlServer {
  private constructor(private readonly server: Server, readonly path: string) {}

  /** Listens at `path`; a stale socket file left by a dead hypervisor is replaced, a live one refused. */
  static async listen(hv: Type1Hypervisor, path: string): Promise<ControlServer> {
    if (existsSync(path)) {
      if (await answers(path)) throw new Error(`a hypervisor already listens on ${path}`);
      unlinkSync(path);
    }
    const server = createServer((socket) => serve(hv, socket));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(path, () => resolve());
    });
    return new ControlServer(server, path);
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => {
      if (existsSync(this.path)) unlinkSync(this.path);
      resolve();
    }));
  }
}

function serve(hv: Type1Hypervisor, socket: Socket): void {
  let buffered = '';
  const onData = (chunk: Buffer) => {
    buffered += chunk.toString('utf8');
    if (buffered.length > MAX_REQUEST) {
      socket.end(JSON.stringify({ ok: false, error: 'request too long' } satisfies ControlResponse) + '\n');
      return;
    }
    const newline = buffered.indexOf('\n');
    if (newline < 0) return;
    socket.off('data', onData);
    const line = buffered.slice(0, newline);
    const rest = Buffer.from(buffered.slice(newline + 1), 'utf8');
    void answer(hv, line).then((response) => {
      socket.write(JSON.stringify(response) + '\n');
      const request = parse(line);
      if (response.ok && request?.cmd === 'console') attachConsole(hv, request.domain, socket, rest);
      else socket.end();
    });
  };
  socket.on('data', onData);
  socket.on('error', () => socket.destroy());
}

function parse(line: string): ControlRequest | null {
  try {
    return JSON.parse(line) as ControlRequest;
  } catch {
    return null;
  }
}

async function answer(hv: Type1Hypervisor, line: string): Promise<ControlResponse> {
  const request = parse(line);
  if (request === null || typeof request !== 'object') return { ok: false, error: 'the request is not JSON' };
  try {
    return { ok: true, result: await execute(hv, request) };
  } catch (error) {
    return { ok: false, error: error instanceof Error ? error.message : String(error) };
  }
}

async function execute(hv: Type1Hypervisor, r: ControlRequest): Promise<ControlResult> {
  switch (r.cmd) {
    case 'list':
      return hv.list();
    case 'vcpu-list':
      return hv.vcpuList();
    case 'info':
      return hv.info();
    case 'create': {
      const domain = hv.create(parseDomain(r.text, hv.pcpuCount, r.source));
      return { id: domain.id, name: domain.name };
    }
    case 'destroy':
      await hv.destroy(r.domain);
      return null;
    case 'shutdown':
    case 'reboot': {
      const force = r.cmd === 'reboot' && r.force === true;
      const all = r.all === true;
      if (all === (r.domain !== undefined)) throw new Error(`${r.cmd}: name one domain or ask for all of them`);
      const domains = all ? hv.askAll(r.cmd, force) : [r.cmd === 'shutdown' ? hv.shutdownDomain(r.domain!) : hv.rebootDomain(r.domain!, force)];
      const results = await Promise.all(domains.map(async (domain): Promise<ShutdownResult> => {
        const via = domain.pvKernel !== null ? 'control/shutdown' : r.cmd === 'shutdown' ? 'power-button' : 'reset';
        return { id: domain.id, name: domain.name, via, ...(r.wait === true ? await domain.settled() : {}) };
      }));
      return all ? results : results[0];
    }
    case 'pause':
      hv.pause(r.domain);
      return null;
    case 'unpause':
      hv.unpause(r.domain);
      return null;
    case 'console':
      hv.find(r.domain);
      return null;
    case 'vcpu-set':
      hv.setVcpus(r.domain, r.count);
      return null;
    case 'vcpu-pin':
      if (r.vcpu !== 'all' && !/^\d+$/.test(r.vcpu)) throw new Error(`vcpu-pin: VCPU is a number or all, not '${r.vcpu}'`);
      hv.pin(r.domain, parseCpuList(r.cpus, hv.pcpuCount), r.vcpu === 'all' ? 'all' : Number(r.vcpu));
      return null;
    case 'sched-credit2': {
      const domains = r.domain === undefined ? hv.list().map((d) => d.name) : [r.domain];
      return domains.map((name) => {
        const d = hv.find(name);
        const params = r.weight !== undefined || r.cap !== undefined
          ? hv.setScheduling(name, { ...(r.weight !== undefined ? { weight: r.weight } : {}), ...(r.cap !== undefined ? { cap: r.cap } : {}) })
          : hv.schedulingOf(name);
        return { name: d.name, id: d.id, ...params };
      });
    }
    default:
      throw new Error(`unknown command '${(r as { cmd: unknown }).cmd}'`);
  }
}

/** Streams the domain's console: what it printed so far, then live; bytes from the client are typed to it. */
function attachConsole(hv: Type1Hypervisor, ref: string, socket: Socket, typed: Uint8Array): void {
  let domain;
  try {
    domain = hv.find(ref);
  } catch {
    socket.end();
    return;
  }
  const sink = domain.console;
  socket.write(sink.history());
  const listener = (bytes: Uint8Array) => socket.write(bytes);
  sink.listeners.add(listener);
  const input = (bytes: Uint8Array) => { if (bytes.length > 0) hv.consoleInput(domain, bytes); };
  input(typed);
  socket.on('data', input);
  socket.on('close', () => sink.listeners.delete(listener));
}
