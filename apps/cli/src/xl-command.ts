// `ringvisor xl COMMAND`: manages a running type-1 hypervisor over its control socket, with xl's
// conventions (commands, arguments, the columns of list and vcpu-list).
import { readFileSync } from 'node:fs';
import type { ControlRequest, ControlResult, DomainInfo, HostInfo, SchedRow, ShutdownResult, ShutdownVia, VcpuInfo } from '@ringvisor/hypervisor-type1';
import { UsageError } from './args.js';
import { defaultControlSocket } from './type1-command.js';
import { controlRequest } from './xl-client.js';

export const XL_HELP = `Usage: ringvisor xl [-s SOCKET] COMMAND [ARGS]

Talks to a running 'ringvisor type1' hypervisor over its control socket (default: $RINGVISOR_CONTROL,
else $TMPDIR/ringvisor-type1.sock). DOM is a domain's name or ID.

Commands:
  list                                 domains: Name, ID, Mem, VCPUs, State, Time(s)
  info                                 the platform: host, pCPUs, RAM pool total and free (MiB, and the
                                       largest free run: one domain's RAM is one extent), scheduler
  create FILE [-c]                     create a domain from FILE (one domain of the platform schema, JSON);
                                       -c attaches to its console
  console DOM                          attach to the domain's console (Ctrl-] detaches)
  pause DOM | unpause DOM              stop / resume scheduling the domain's vCPUs
  shutdown [-w] [-F] DOM               ask the guest to shut down: press its ACPI power button (full,
                                       hw:vmx), or write poweroff to its xenstore control/shutdown
                                       (para). The guest powers off or ignores it (destroy stops it
                                       then), and on_poweroff applies; -w waits until that is done;
                                       -F (fall back to ACPI) is accepted: the button is already
                                       what every HVM domain gets
  reboot [-w] [-F] DOM                 ask the guest to reboot: write reboot to a para domain's
                                       xenstore control/shutdown (Linux and minikernel-pv obey);
                                       on_reboot then applies (restart: rebuilt from its config
                                       with a new ID). A full or hw:vmx domain has no PV control
                                       interface: refused unless -F, which resets it at once as a
                                       PC's reset button does (the guest is not asked). -w waits
                                       until on_reboot is done and prints the new ID
  shutdown -a [-w] [-F]                every domain that has not ended, in ID order, as above;
  reboot -a [-w] [-F]                  -w waits for all of them. As xl, the first domain that
                                       cannot be asked (reboot without -F of a full or hw:vmx
                                       domain) ends the command: those before it were asked, the
                                       rest are not (the error names both)
  destroy DOM                          stop the domain at once and return its frames to the pool
  vcpu-list [DOM...]                   vCPUs: the pCPU each runs on, state, time, hard affinity
  vcpu-set DOM COUNT                   a para domain's online vCPUs (1..its vcpus), asked of its
                                       guest through xenstore cpu/N/availability, as xl does
  vcpu-pin DOM VCPU CPUS               hard affinity: CPUS is all, N, N-M or a comma list
  sched-credit2 [-d DOM] [-w WEIGHT] [-c CAP]
                                       show, or set, a domain's credit2 weight (1..65535) and cap (% of a pCPU, 0 none)

State flags (list): r running, b blocked, p paused, s shut down, then the shutdown reason (r reboot,
c crash, w watchdog; none for a power-off), d dying. A domain's end: on_poweroff (default destroy),
on_reboot (restart), on_crash (destroy), on_watchdog (destroy; a para domain's SCHEDOP_watchdog) in
its platform or create file: destroy, restart or preserve (kept in the list with its memory until
xl destroy).
`;

function need(args: readonly string[], count: number, usage: string): void {
  if (args.length !== count) throw new UsageError(`usage: ringvisor xl ${usage}`);
}

function integer(flag: string, text: string | undefined, min: number, max: number): number {
  const value = Number(text);
  if (text === undefined || !Number.isInteger(value) || value < min || value > max) {
    throw new UsageError(`${flag} needs an integer from ${min} to ${max} (got '${text ?? ''}')`);
  }
  return value;
}

function schedRequest(args: readonly string[]): ControlRequest {
  let domain: string | undefined;
  let weight: number | undefined;
  let cap: number | undefined;
  for (let i = 0; i < args.length; i++) {
    const flag = args[i];
    if (flag === '-d') domain = args[++i];
    else if (flag === '-w') weight = integer('-w', args[++i], 1, 65535);
    else if (flag === '-c') cap = integer('-c', args[++i], 0, 6400);
    else throw new UsageError(`sched-credit2: unknown argument '${flag}' (-d DOM, -w WEIGHT, -c CAP)`);
    if (flag === '-d' && domain === undefined) throw new UsageError('-d needs a domain');
  }
  if ((weight !== undefined || cap !== undefined) && domain === undefined) throw new UsageError('sched-credit2: -w and -c need -d DOM');
  return { cmd: 'sched-credit2', ...(domain !== undefined ? { domain } : {}), ...(weight !== undefined ? { weight } : {}), ...(cap !== undefined ? { cap } : {}) };
}

export function formatList(rows: readonly DomainInfo[]): string[] {
  return [
    `${'Name'.padEnd(40)} ${'ID'.padStart(5)} ${'Mem'.padStart(5)} ${'VCPUs'.padStart(5)}\tState\tTime(s)`,
    ...rows.map((d) => `${d.name.padEnd(40)} ${String(d.id).padStart(5)} ${String(d.memoryMiB).padStart(5)} ${String(d.vcpus).padStart(5)}\t${d.state}\t${d.cpuSeconds.toFixed(1).padStart(7)}`),
  ];
}

function formatVcpus(rows: readonly VcpuInfo[]): string[] {
  return [
    `${'Name'.padEnd(32)} ${'ID'.padStart(5)} ${'VCPU'.padStart(5)} ${'CPU'.padStart(5)} State ${'Time(s)'.padStart(9)} Affinity (Hard)`,
    ...rows.map((v) => `${v.name.padEnd(32)} ${String(v.id).padStart(5)} ${String(v.vcpu).padStart(5)} ${(v.cpu === null ? '-' : String(v.cpu)).padStart(5)} ${v.state.padEnd(5)} ${v.cpuSeconds.toFixed(1).padStart(9)} ${v.affinity.join(',')}`),
  ];
}

/** xl info's `key : value` lines. */
export function formatInfo(info: HostInfo): string[] {
  const rows: [string, string | number][] = [
    ['host', info.host], ['release', info.release], ['machine', info.machine], ['nr_cpus', info.pcpus], ['nr_nodes', 1],
    ['total_memory', info.totalMiB], ['free_memory', info.freeMiB], ['largest_free_run', info.largestFreeMiB],
    ['nr_domains', info.domains], ['xen_scheduler', 'credit2'], ['sched_ratelimit_us', info.scheduler.ratelimitUs],
    ['sched_max_slice_us', info.scheduler.maxSliceUs], ['hypervisor', 'ringvisor type1'],
  ];
  return rows.map(([key, value]) => `${key.padEnd(23)}: ${value}`);
}

function formatSched(rows: readonly SchedRow[]): string[] {
  return [`${'Name'.padEnd(32)} ${'ID'.padStart(5)} ${'Weight'.padStart(7)} ${'Cap'.padStart(5)}`,
    ...rows.map((r) => `${r.name.padEnd(32)} ${String(r.id).padStart(5)} ${String(r.weight).padStart(7)} ${String(r.cap).padStart(5)}`)];
}

const VIA: Record<ShutdownVia, string> = {
  'power-button': 'ACPI power button pressed', 'control/shutdown': 'xenstore control/shutdown = ', reset: 'reset',
};

/** What xl shutdown and reboot print: how the guest was asked, or with -w what became of the domain. */
function shutdownLine(command: 'shutdown' | 'reboot', r: ShutdownResult): string {
  const domain = `domain ${r.id} '${r.name}'`;
  if (r.end === undefined) {
    const how = r.via === 'control/shutdown' ? `${VIA[r.via]}${command === 'shutdown' ? 'poweroff' : 'reboot'}` : VIA[r.via ?? 'power-button'];
    return `${command === 'shutdown' ? 'shutting down' : 'rebooting'} ${domain} (${how})\n`;
  }
  const then = r.restartedAs !== undefined ? `restarted as domain ${r.restartedAs}`
    : r.restartError !== undefined ? `its restart failed: ${r.restartError}` : r.action === 'preserve' ? 'preserved' : 'destroyed';
  return `${domain} has shut down: ${r.end}; ${then}\n`;
}

/** Attaches the terminal to a domain console on an open control connection; Ctrl-] (0x1d) detaches. */
function attach(socket: import('node:net').Socket, rest: Buffer): Promise<number> {
  return new Promise((resolve) => {
    process.stdout.write(rest);
    socket.on('data', (chunk) => process.stdout.write(chunk));
    const raw = process.stdin.isTTY === true;
    const done = () => {
      process.stdin.off('data', onKeys);
      if (raw) process.stdin.setRawMode(false);
      process.stdin.pause();
      socket.destroy();
      resolve(0);
    };
    const onKeys = (chunk: Buffer) => {
      const detach = chunk.indexOf(0x1d);
      if (detach >= 0) {
        if (detach > 0) socket.write(chunk.subarray(0, detach));
        done();
      } else socket.write(chunk);
    };
    if (raw) process.stdin.setRawMode(true);
    process.stdin.on('data', onKeys);
    socket.on('close', done);
  });
}

export async function xlCommand(argv: readonly string[]): Promise<number> {
  let args = [...argv];
  let socketPath = defaultControlSocket();
  if (args[0] === '-s') {
    if (args[1] === undefined) throw new UsageError('-s needs a SOCKET path');
    socketPath = args[1];
    args = args.slice(2);
  }
  const [command, ...rest] = args;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(XL_HELP);
    return 0;
  }
  let request: ControlRequest;
  let consoleAfter = false;
  switch (command) {
    case 'list':
    case 'info':
      need(rest, 0, command);
      request = { cmd: command };
      break;
    case 'vcpu-list':
      // Optional domains (names or IDs) to show, as xl's; the filter is applied to the whole list here.
      request = { cmd: command };
      break;
    case 'create': {
      const file = rest.find((a) => a !== '-c');
      consoleAfter = rest.includes('-c');
      if (file === undefined || rest.length !== (consoleAfter ? 2 : 1)) throw new UsageError('usage: ringvisor xl create FILE [-c]');
      let text: string;
      try {
        text = readFileSync(file, 'utf8');
      } catch (error) {
        throw new Error(`cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
      }
      request = { cmd: 'create', text, source: file };
      break;
    }
    case 'shutdown':
    case 'reboot': {
      const flags = rest.filter((a) => a === '-w' || a === '-F' || a === '-a');
      const domains = rest.filter((a) => !(flags as readonly string[]).includes(a));
      const all = flags.includes('-a');
      if (domains.length !== (all ? 0 : 1) || new Set(flags).size !== flags.length) {
        throw new UsageError(`usage: ringvisor xl ${command} [-w] [-F] DOM, or ringvisor xl ${command} -a [-w] [-F]`);
      }
      const options = {
        ...(flags.includes('-w') ? { wait: true } : {}), ...(command === 'reboot' && flags.includes('-F') ? { force: true } : {}),
      };
      request = all ? { cmd: command, all: true, ...options } : { cmd: command, domain: domains[0], ...options };
      break;
    }
    case 'console':
    case 'pause':
    case 'unpause':
    case 'destroy':
      need(rest, 1, `${command} DOM`);
      request = { cmd: command, domain: rest[0] };
      break;
    case 'vcpu-set': {
      need(rest, 2, 'vcpu-set DOM COUNT');
      const count = /^\d{1,2}$/.test(rest[1]) ? Number(rest[1]) : NaN;
      if (!(count >= 1)) throw new UsageError(`vcpu-set: COUNT is a number of vCPUs from 1, not '${rest[1]}'`);
      request = { cmd: 'vcpu-set', domain: rest[0], count };
      break;
    }
    case 'vcpu-pin':
      need(rest, 3, 'vcpu-pin DOM VCPU CPUS');
      request = { cmd: 'vcpu-pin', domain: rest[0], vcpu: rest[1], cpus: rest[2] };
      break;
    case 'sched-credit2':
      request = schedRequest(rest);
      break;
    default:
      throw new UsageError(`unknown xl command '${command}' (see ringvisor xl --help)`);
  }
  const { response, socket, rest: extra } = await controlRequest(socketPath, request);
  if (!response.ok) {
    socket.destroy();
    // A domain file's problems come one per line.
    process.stderr.write(response.error.split('\n').map((line) => `ringvisor: ${line.trim()}\n`).join(''));
    return 1;
  }
  const result: ControlResult = response.result;
  if (request.cmd === 'console') return attach(socket, extra);
  socket.destroy();
  if (request.cmd === 'list') process.stdout.write(formatList(result as DomainInfo[]).join('\n') + '\n');
  else if (request.cmd === 'vcpu-list') {
    const rows = result as VcpuInfo[];
    const unknown = rest.find((ref) => !rows.some((v) => v.name === ref || String(v.id) === ref));
    if (unknown !== undefined) {
      process.stderr.write(`ringvisor: no domain '${unknown}'\n`);
      return 1;
    }
    const shown = rest.length === 0 ? rows : rows.filter((v) => rest.includes(v.name) || rest.includes(String(v.id)));
    process.stdout.write(formatVcpus(shown).join('\n') + '\n');
  }
  else if (request.cmd === 'info') process.stdout.write(formatInfo(result as HostInfo).join('\n') + '\n');
  else if (request.cmd === 'sched-credit2') process.stdout.write(formatSched(result as SchedRow[]).join('\n') + '\n');
  else if (request.cmd === 'shutdown' || request.cmd === 'reboot') {
    // -a: one line per domain asked (none when no domain runs).
    const cmd = request.cmd;
    const results = Array.isArray(result) ? result as ShutdownResult[] : [result as ShutdownResult];
    process.stdout.write(results.map((r) => shutdownLine(cmd, r)).join(''));
  }
  else if (request.cmd === 'create') {
    const created = result as { id: number; name: string };
    process.stdout.write(`created domain ${created.id} '${created.name}'\n`);
    if (consoleAfter) {
      const attached = await controlRequest(socketPath, { cmd: 'console', domain: String(created.id) });
      if (!attached.response.ok) throw new Error(attached.response.error);
      return attach(attached.socket, attached.rest);
    }
  }
  return 0;
}
