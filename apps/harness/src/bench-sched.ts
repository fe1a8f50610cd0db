// `harness bench sched`: the type-1 hypervisor's credit scheduler measured on real pCPU workers.
// Compute domains (CPU-bound, never halting) under hw:vmx on a platform of 2 pCPUs; each case runs
// for a fixed interval after a warm-up and compares the CPU time each domain got with what its
// weight, cap or pinning entitles it to. Exit status 1 when a case misses its target.
import { Type1Hypervisor, parsePlatform } from '@ringvisor/hypervisor-type1';

const STRATEGIES = [{ name: 'hw:vmx', module: import.meta.resolve('@ringvisor/vmm-hw'), exportName: 'vmxStrategy' }];
const PCPUS = 2;
const WARMUP_MS = 1000;
/** Targets: shares within 5 % of the fair share, a cap held within 10 % of itself, pinned time never elsewhere. */
const SHARE_TARGET = 5;
const CAP_TARGET = 10;

interface DomainSpec { name: string; weight?: number; cap?: number; affinity?: number[] }

/** Weighted fair shares of `pcpus` CPUs when no vCPU can use more than one (water filling). */
export function fairShares(weights: readonly number[], pcpus: number): number[] {
  const shares = weights.map(() => 0);
  let open = weights.map((_, i) => i);
  let capacity = pcpus;
  for (;;) {
    const total = open.reduce((sum, i) => sum + weights[i], 0);
    const over = open.filter((i) => (capacity * weights[i]) / total > 1);
    if (over.length === 0) {
      for (const i of open) shares[i] = (capacity * weights[i]) / total;
      return shares;
    }
    for (const i of over) shares[i] = 1;
    capacity -= over.length;
    open = open.filter((i) => !over.includes(i));
  }
}

/** Runs `domains` for `seconds` after the warm-up; CPU seconds each got in the window, and per pCPU. */
async function measure(domains: readonly DomainSpec[], seconds: number): Promise<{ cpu: number[]; on: number[][]; wall: number }> {
  const platform = parsePlatform(JSON.stringify({
    pcpus: PCPUS, memory: 64,
    domains: domains.map((d) => ({ strategy: 'hw:vmx', memory: 4, boot: { compute: true }, ...d })),
  }), 'bench sched');
  const hv = await Type1Hypervisor.start({ platform, strategies: STRATEGIES });
  try {
    await sleep(WARMUP_MS);
    const sample = () => hv.vcpuList();
    const before = sample();
    const start = performance.now();
    await sleep(seconds * 1000);
    const after = sample();
    const wall = (performance.now() - start) / 1000;
    for (const d of hv.list()) if (d.end !== null) throw new Error(`domain ${d.name} ended: ${d.end}`);
    return {
      cpu: after.map((v, i) => v.cpuSeconds - before[i].cpuSeconds),
      on: after.map((v, i) => v.secondsOn.map((s, p) => s - before[i].secondsOn[p])),
      wall,
    };
  } finally {
    await hv.shutdown();
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const pct = (x: number) => `${(100 * x).toFixed(1)}%`;

export async function benchSched(args: readonly string[]): Promise<number> {
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write('Usage: harness bench sched [--seconds N]\n\n' +
      'Type-1 credit scheduling on 2 pCPUs with compute domains under hw:vmx (N seconds a case, default 5):\n' +
      '  shares   weights 256, 512, 256: measured share of CPU time against the weighted fair share;\n' +
      '           ends with `type1 shares: max error N%` (relative to the fair share; target <= 5%)\n' +
      '  cap      a domain capped at 25% beside an uncapped one: its share of one pCPU (target within 10% of 25%)\n' +
      '  pinning  two domains pinned to pCPU 0, one to pCPU 1: each runs only there, halves and whole\n');
    return 0;
  }
  let seconds = 5;
  if (args.length > 0) {
    if (args[0] !== '--seconds' || args.length !== 2 || !(Number(args[1]) >= 1 && Number(args[1]) <= 600)) {
      process.stderr.write('harness: bench sched takes [--seconds N] with N from 1 to 600\n');
      return 2;
    }
    seconds = Number(args[1]);
  }
  let ok = true;

  // Case 1: weights.
  const weighted: DomainSpec[] = [{ name: 'w256a', weight: 256 }, { name: 'w512', weight: 512 }, { name: 'w256b', weight: 256 }];
  const shares = await measure(weighted, seconds);
  const total = shares.cpu.reduce((a, b) => a + b, 0);
  const fair = fairShares(weighted.map((d) => d.weight!), PCPUS);
  const fairTotal = fair.reduce((a, b) => a + b, 0);
  let maxError = 0;
  process.stdout.write(`shares: ${PCPUS} pCPUs, ${seconds} s; ${total.toFixed(2)} CPU-s used of ${(PCPUS * shares.wall).toFixed(2)} (${pct(total / (PCPUS * shares.wall))} busy)\n`);
  weighted.forEach((d, i) => {
    const measured = shares.cpu[i] / total;
    const expected = fair[i] / fairTotal;
    const error = (100 * Math.abs(measured - expected)) / expected;
    maxError = Math.max(maxError, error);
    process.stdout.write(`  ${d.name.padEnd(6)} weight ${String(d.weight).padStart(3)}  ${shares.cpu[i].toFixed(2)} CPU-s  share ${pct(measured)}  fair ${pct(expected)}  error ${error.toFixed(1)}%\n`);
  });
  process.stdout.write(`type1 shares: max error ${maxError.toFixed(1)}%\n`);
  if (maxError > SHARE_TARGET) ok = false;

  // Case 2: a 25 % cap is a ceiling even with a pCPU to spare.
  const capped = await measure([{ name: 'capped', cap: 25 }, { name: 'free' }], seconds);
  const capShare = capped.cpu[0] / capped.wall;
  const capError = (100 * Math.abs(capShare - 0.25)) / 0.25;
  process.stdout.write(`cap: 'capped' (cap 25%) got ${pct(capShare)} of one pCPU, 'free' ${pct(capped.cpu[1] / capped.wall)}; error ${capError.toFixed(1)}% ${capError <= CAP_TARGET ? 'ok' : 'MISSED'}\n`);
  if (capError > CAP_TARGET) ok = false;

  // Case 3: hard affinity.
  const pinned = await measure([{ name: 'p0a', affinity: [0] }, { name: 'p0b', affinity: [0] }, { name: 'p1', affinity: [1] }], seconds);
  const elsewhere = [pinned.on[0][1], pinned.on[1][1], pinned.on[2][0]];
  const halves = [pinned.cpu[0] / pinned.wall, pinned.cpu[1] / pinned.wall, pinned.cpu[2] / pinned.wall];
  const pinOk = elsewhere.every((s) => s === 0) && Math.abs(halves[0] - halves[1]) / (halves[0] + halves[1]) <= SHARE_TARGET / 100;
  process.stdout.write(`pinning: p0a ${pct(halves[0])} and p0b ${pct(halves[1])} of pCPU 0, p1 ${pct(halves[2])} of pCPU 1; ` +
    `time off their pCPU ${elsewhere.map((s) => s.toFixed(3)).join('/')} s ${pinOk ? 'ok' : 'MISSED'}\n`);
  if (!pinOk) ok = false;
  return ok ? 0 : 1;
}
