import { describe, expect, it } from 'vitest';
import { parseCpuList } from '../src/control/protocol.js';

describe('xl CPU lists', () => {
  it('reads all, single CPUs, ranges and lists', () => {
    expect(parseCpuList('all', 3)).toEqual([0, 1, 2]);
    expect(parseCpuList('1', 2)).toEqual([1]);
    expect(parseCpuList('3,0-1,1', 4)).toEqual([0, 1, 3]);
  });

  it('refuses what is not a CPU of the platform', () => {
    expect(() => parseCpuList('2', 2)).toThrow(/the pCPUs are 0\.\.1/);
    expect(() => parseCpuList('1-0', 2)).toThrow(/the pCPUs are/);
    expect(() => parseCpuList('x', 2)).toThrow(/is not a CPU list/);
    expect(() => parseCpuList('', 2)).toThrow(/is not a CPU list/);
  });
});
