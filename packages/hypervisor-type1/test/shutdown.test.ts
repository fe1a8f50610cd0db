// xl shutdown: the ACPI power button. `guests/acpi-button.S` enables PWRBTN_EN and powers off on
// the SCI, with its board on the device-model thread (hw:vmx, free to move) and on its pCPU (full,
// pinned); the compute guest never enables the button and must run on after it. A para domain is
// asked through xenstore's control/shutdown: minikernel-pv watches it and powers off through
// sched_op, while the others run on. Driven through the control socket, as `ringvisor xl` is.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { COMPUTE_COUNTER_ADDRESS, ControlServer, Type1Hypervisor, parseDomain, parsePlatform } from '../dist/index.js';
import { xl } from './control-client.js';
import { until } from './until.js';

const strategies = [
  { name: 'hw:vmx', module: import.meta.resolve('@ringvisor/vmm-hw'), exportName: 'vmxStrategy' },
  { name: 'full', module: import.meta.resolve('@ringvisor/vmm-full'), exportName: 'fullStrategy' },
  { name: 'para', module: import.meta.resolve('@ringvisor/vmm-para'), exportName: 'paraStrategy' },
];
const BUTTON_GUEST = fileURLToPath(new URL('../guests/acpi-button.bin', import.meta.url));
// Kept once powered off (on_poweroff=preserve), to be looked at in the list.
const button = (name: string, extra: object = {}) => ({ name, strategy: 'hw:vmx', memory: 4, boot: { flat: BUTTON_GUEST, address: 0x100000 }, on_poweroff: 'preserve', ...extra });
const dir = mkdtempSync(join(tmpdir(), 'ringvisor-type1-shutdown-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let hv: Type1Hypervisor | null = null;
let server: ControlServer | null = null;
afterEach(async () => {
  await server?.close();
  await hv?.shutdown();
  hv = server = null;
});

describe('xl shutdown', () => {
  it('presses the ACPI power button: guests that enable it power off (board on the device-model thread and on its pCPU), one that ignores it runs on; a para domain is asked through xenstore and powers off', async () => {
    const consoles = new Map<string, string>();
    const log: string[] = [];
    const platform = parsePlatform(JSON.stringify({
      pcpus: 2, memory: 128, domains: [
        button('thread'),
        button('local', { strategy: 'full', affinity: [1] }),
        { name: 'compute', strategy: 'hw:vmx', memory: 4, boot: { compute: true } },
        { name: 'pv', strategy: 'para', memory: 32, affinity: [0], boot: { guest: 'minikernel-pv' }, on_poweroff: 'preserve' },
      ],
    }));
    hv = await Type1Hypervisor.start({
      platform, strategies, log: (line) => log.push(line),
      console: (domain, bytes) => consoles.set(domain.name, (consoles.get(domain.name) ?? '') + Buffer.from(bytes).toString('latin1')),
    });
    const h = hv;
    expect(log.filter((l) => l.includes('device models on pCPU')).map((l) => /'([\w-]+)'/.exec(l)![1])).toEqual(['local']);
    const socket = join(dir, 'control.sock');
    server = await ControlServer.listen(h, socket);
    const row = (name: string) => h.list().find((d) => d.name === name)!;
    const rounds = () => h.find('compute').memory.read32(COMPUTE_COUNTER_ADDRESS);
    await until('the button guests wait', () => ['thread', 'local'].every((n) => consoles.get(n)?.includes('waiting for the power button')));
    await until('compute runs', () => rounds() > 1000);
    // Waiting in HLT with the button enabled: nothing happens until it is pressed.
    await until('both blocked', () => ['thread', 'local'].every((n) => row(n).state === '-b----'));
    expect(row('thread').end).toBeNull();

    // -w: the answer comes once the guest has powered off through PM1_CNT.
    const waited = await xl(socket, { cmd: 'shutdown', domain: 'thread', wait: true });
    expect(waited).toEqual({ ok: true, result: { id: 1, name: 'thread', via: 'power-button', end: 'power-off', action: 'preserve' } });
    expect(consoles.get('thread')).toContain('power button pressed, entering S5');
    expect(row('thread').state).toBe('---s--');
    // Without -w: the answer comes at once; the domain shuts down on its own time.
    expect(await xl(socket, { cmd: 'shutdown', domain: 'local' })).toEqual({ ok: true, result: { id: 2, name: 'local', via: 'power-button' } });
    await until('local powers off', () => row('local').end === 'power-off');
    expect(row('local').state).toBe('---s--');
    expect(log.filter((l) => l.includes('ACPI power button pressed'))).toHaveLength(2);

    // A guest that never enabled the button: pressed, and it computes on (xl does not force it).
    expect(await xl(socket, { cmd: 'shutdown', domain: 'compute' })).toEqual({ ok: true, result: { id: 3, name: 'compute', via: 'power-button' } });
    const before = rounds();
    await until('compute goes on', () => rounds() > before + 1000);
    expect(row('compute').end).toBeNull();
    expect(row('compute').state).not.toContain('s');

    // A para domain: "poweroff" in its xenstore control/shutdown, on the pCPU it is resident on;
    // minikernel-pv's watch fires, it clears the node and powers off through sched_op(shutdown).
    await until('pv shell', () => consoles.get('pv')?.includes('minikernel shell: type help') === true, 120_000);
    const computing = rounds();
    const asked = await xl(socket, { cmd: 'shutdown', domain: 'pv', wait: true });
    expect(asked).toEqual({ ok: true, result: { id: 4, name: 'pv', via: 'control/shutdown', end: 'power-off', action: 'preserve' } });
    expect(consoles.get('pv')).toContain('minikernel: shutdown requested by the toolstack');
    expect(row('pv').state).toBe('---s--');
    expect(log).toContain("domain 4 'pv': xenstore control/shutdown = poweroff");
    expect(log).toContain("domain 4 'pv' shut down: power-off");
    // The domain beside it computes on.
    await until('compute goes on after the pv domain', () => rounds() > computing + 1000);
    expect(row('compute').end).toBeNull();

    // Asked as it is created: the request may reach its pCPU before the VM is built there (then it
    // waits and is written at the build); either way it is in the node when the guest sets its
    // watch, whose first event shows it, and the guest powers off at boot.
    const early = h.create(parseDomain(JSON.stringify({ name: 'early', strategy: 'para', memory: 32, affinity: [1], boot: { guest: 'minikernel-pv' }, on_poweroff: 'preserve' }), 2, 'early'));
    h.shutdownDomain('early');
    expect(await early.ended()).toBe('power-off');
    expect(consoles.get('early')).toContain('minikernel: shutdown requested by the toolstack');
    expect(consoles.get('early')).not.toContain('minikernel shell');
    expect(await xl(socket, { cmd: 'destroy', domain: 'early' })).toEqual({ ok: true, result: null });

    // Ended domains are refused; destroy still stops the one that ignored the button.
    const again = await xl(socket, { cmd: 'shutdown', domain: 'thread' });
    expect(!again.ok && again.error).toMatch(/has already ended \(power-off\)/);
    expect(await xl(socket, { cmd: 'destroy', domain: 'compute' })).toEqual({ ok: true, result: null });
    expect(() => h.find('compute')).toThrow(/no domain/);
  });
});
