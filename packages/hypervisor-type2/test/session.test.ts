import { describe, expect, it } from 'vitest';
import { ExitCounters, VirtualClock } from '@ringvisor/machine';
import type { VmExit } from '@ringvisor/vmm-api';
import { virtualLoopClock } from '../src/loop-clocks.js';
import type { FromWorker } from '../src/protocol.js';
import { RunLoop } from '../src/run-loop.js';
import { VmSession } from '../src/session.js';
import { FakePic, FakeVcpu, type ScriptStep } from './fakes.js';

function session(script: ScriptStep[], options: { serialInput?: boolean; after?: VmExit; serialOut?: number[] } = {}) {
  const vcpu = new FakeVcpu(script, options.after);
  const clock = new VirtualClock();
  const loopClock = virtualLoopClock(clock, { paced: false });
  const pic = new FakePic();
  const stats = new ExitCounters();
  const serialOut = options.serialOut ?? [];
  const serialIn: number[] = [];
  const messages: FromWorker[] = [];
  let destroyed = 0;
  let presses = 0;
  let endedResolve: (m: FromWorker) => void = () => {};
  const ended = new Promise<FromWorker & { type: 'ended' }>((resolve) => { endedResolve = resolve as typeof endedResolve; });
  const loop = new RunLoop({ vcpu, clock: loopClock, interrupts: pic, pendingEnd: () => null }, { sliceMs: 1 });
  const s = new VmSession(
    {
      loop, clock: loopClock, vcpu, stats,
      postCode: () => 0x42,
      serialInput: (bytes) => { serialIn.push(...bytes); pic.raise(0x24); },
      pressPowerButton: () => { presses++; pic.raise(0x29); },
      takeSerialOutput: () => (serialOut.length ? Uint8Array.from(serialOut.splice(0)) : null),
      serialOutputAcknowledged: () => {},
      destroy: () => { destroyed++; },
    },
    (message) => {
      messages.push(message);
      if (message.type === 'ended') endedResolve(message);
    },
    { serialInput: options.serialInput ?? true },
  );
  return { s, vcpu, clock, pic, stats, serialOut, serialIn, messages, ended, destroyed: () => destroyed, presses: () => presses };
}

const tick = () => new Promise((resolve) => setTimeout(resolve, 5));
const write = (out: number[], text: string) => () => { out.push(...Buffer.from(text)); };

describe('VmSession', () => {
  it('runs to power-off, flushing serial output before the final report', async () => {
    const out: number[] = [];
    const m: ReturnType<typeof session> = session([
      { exit: { reason: 'budget' }, during: write(out, 'hello\n') },
      { exit: { reason: 'shutdown', cause: 'power-off' }, during: () => m.stats.count('shutdown') },
    ], { serialOut: out });
    m.s.start();
    const ended = await m.ended;
    expect(ended).toMatchObject({ type: 'ended', end: { reason: 'power-off' } });
    const serial = m.messages.filter((x) => x.type === 'serial-out');
    expect(Buffer.from((serial[0] as { bytes: Uint8Array }).bytes).toString()).toBe('hello\n');
    expect(m.messages.indexOf(serial[0])).toBeLessThan(m.messages.indexOf(ended));
    expect(ended.stats.post).toBe(0x42);
    expect(ended.stats.byReason).toEqual({ shutdown: 1 });
    expect(m.destroyed()).toBe(1);
  });

  it('pauses without running the guest, answers stats while paused, resumes and stops', async () => {
    const m = session([]);
    m.s.start();
    await tick();
    m.s.handle({ type: 'pause' });
    await tick();
    const frozen = m.vcpu.retired;
    await tick();
    expect(m.vcpu.retired).toBe(frozen);
    m.s.handle({ type: 'stats', id: 7 });
    const reply = m.messages.find((x) => x.type === 'stats') as { id: number; snapshot: { instructions: number } };
    expect(reply.id).toBe(7);
    expect(reply.snapshot.instructions).toBe(frozen);
    m.s.handle({ type: 'resume' });
    await tick();
    expect(m.vcpu.retired).toBeGreaterThan(frozen);
    m.s.handle({ type: 'stop', end: { reason: 'stopped', detail: 'test' } });
    expect(await m.ended).toMatchObject({ end: { reason: 'stopped', detail: 'test' } });
    const after = m.vcpu.retired;
    await tick();
    expect(m.vcpu.retired).toBe(after);
  });

  it.each([
    ['serial input', { type: 'serial-in', bytes: Uint8Array.of(0x61) }],
    ['a power-button press', { type: 'power-button' }],
  ] as const)('wakes a halted guest when %s arrives', async (_, message) => {
    const m = session([
      { exit: { reason: 'hlt', interruptsEnabled: true } },
      { exit: { reason: 'shutdown', cause: 'power-off' } },
    ]);
    m.s.start();
    await tick();
    expect(m.vcpu.budgets).toHaveLength(1);
    m.s.handle(message);
    expect(await m.ended).toMatchObject({ end: { reason: 'power-off' } });
    expect([m.serialIn, m.presses()]).toEqual(message.type === 'serial-in' ? [[0x61], 0] : [[], 1]);
  });

  it('ends a guest that waits for input that can no longer come', async () => {
    const m = session([{ exit: { reason: 'hlt', interruptsEnabled: true } }]);
    m.s.start();
    await tick();
    m.s.handle({ type: 'serial-in-closed' });
    expect((await m.ended).end.reason).toBe('idle');
  });

  it('turns an exception thrown by the strategy into an error end', async () => {
    const m = session([]);
    m.vcpu.run = () => { throw new Error('decoder exploded'); };
    m.s.start();
    expect((await m.ended).end).toEqual({ reason: 'error', detail: 'VMM failure: decoder exploded' });
  });
});
