// The run loop of 64-bit mode: `Cpu.run` calls it instead of its own loop while `cpu.mode64`.
import type { Cpu } from '../cpu.js';
import { LongBlocks } from './blocks.js';
import { step64 } from './execute.js';

export { LongState } from './state.js';

/**
 * Runs 64-bit instructions until the budget ends or an event (the mode switch included) needs the
 * boundary: compiled blocks where there are some (blocks.ts), the interpreter elsewhere.
 */
export function runLong(cpu: Cpu, budget: number, done: number): number {
  const cache = cpu.blockCache;
  // Opcode intercepts leave the blocks on: the one 64-bit mode honours, SYSCALL (a PV VMM's
  // hypercall instruction), is never compiled, so a block ends before it and step64 checks it.
  if (cache === null) return interpret(cpu, budget, done);
  const blocks = cpu.longBlocks ?? (cpu.longBlocks = new LongBlocks());
  const hotRuns = cache.hotRuns;
  const inlineRuns = cache.inlineRuns64;
  while (done < budget) {
    cpu.recordedRetire = done;
    // Only the first instruction may see events (a trap the boundary armed for it): no block then.
    const n = cpu.events === 0 ? blocks.enter(cpu, budget - done, hotRuns, inlineRuns) : 0;
    if (n === 0) {
      step64(cpu);
      done++;
    } else done += n;
    if (cpu.events !== 0) break;
  }
  return done;
}

/** The interpreter alone (compiled blocks off). */
function interpret(cpu: Cpu, budget: number, done: number): number {
  while (done < budget) {
    cpu.recordedRetire = done;
    step64(cpu);
    done++;
    if (cpu.events !== 0) break;
  }
  return done;
}
