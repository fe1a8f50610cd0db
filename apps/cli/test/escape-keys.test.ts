import { describe, expect, it } from 'vitest';
import { EscapeKeys } from '../src/escape-keys.js';

function console() {
  const sent: number[] = [];
  const actions: string[] = [];
  const keys = new EscapeKeys({
    send: (bytes) => sent.push(...bytes),
    quit: () => actions.push('quit'),
    stats: () => actions.push('stats'),
    help: () => actions.push('help'),
    togglePause: () => actions.push('pause'),
    powerButton: () => actions.push('power'),
  });
  return { keys, sent, actions };
}

const bytes = (text: string) => new Uint8Array(Buffer.from(text, 'latin1'));

describe('EscapeKeys', () => {
  it('passes ordinary keys, Ctrl-C included, straight to the guest', () => {
    const c = console();
    c.keys.feed(bytes('ls -l\r\x03'));
    expect(Buffer.from(c.sent).toString('latin1')).toBe('ls -l\r\x03');
    expect(c.actions).toEqual([]);
  });

  it('runs Ctrl-A commands and keeps them out of the guest input', () => {
    const c = console();
    c.keys.feed(bytes('ab\x01sc\x01hd\x01o\x01x'));
    expect(Buffer.from(c.sent).toString('latin1')).toBe('abcd');
    expect(c.actions).toEqual(['stats', 'help', 'power', 'quit']);
  });

  it('remembers a Ctrl-A that ends one chunk for the next', () => {
    const c = console();
    c.keys.feed(bytes('q\x01'));
    c.keys.feed(bytes('X'));
    expect(c.actions).toEqual(['quit']);
    expect(Buffer.from(c.sent).toString('latin1')).toBe('q');
  });

  it('sends a literal Ctrl-A for Ctrl-A a and Ctrl-A Ctrl-A, pauses on p, helps on anything else', () => {
    const c = console();
    c.keys.feed(bytes('\x01a\x01\x01\x01p\x01?'));
    expect(c.sent).toEqual([1, 1]);
    expect(c.actions).toEqual(['pause', 'help']);
  });
});
