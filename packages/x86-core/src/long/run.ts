// The run loop of 64-bit mode: `Cpu.run` calls it instead of its own loop while `cpu.mode64`.
import type { Cpu } from '../cpu.js';
import { step64 } from './execute.js';

export { LongState } from './state.js';

/** Runs 64-bit instructions until the budget ends or an event (the mode switch included) needs the boundary. */
export function runLong(cpu: Cpu, budget: number, done: number): number {
  while (done < budget) {
    cpu.recordedRetire = done;
    step64(cpu);
    done++;
    if (cpu.events !== 0) break;
  }
  return done;
}
