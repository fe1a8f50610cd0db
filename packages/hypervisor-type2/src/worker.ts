// Entry point of a VM's worker thread: builds the board and the VM, loads the guest, then hands the
// thread's event loop to a VmSession. Nothing here outlives the VM; the main thread terminates us.
import { parentPort, workerData } from 'node:worker_threads';
import type { Vcpu, Vm } from '@ringvisor/vmm-api';
import { buildHostedBoard } from './board.js';
import { hostLoopClock, virtualLoopClock } from './loop-clocks.js';
import type { FromWorker, RamRegion, ToWorker, WorkerConfig } from './protocol.js';
import { RunLoop } from './run-loop.js';
import { SerialBuffer } from './serial-buffer.js';
import { VmSession } from './session.js';
import { loadStrategy } from './strategy-registry.js';

const port = parentPort;
if (!port) throw new Error('the hypervisor worker must run in a worker thread');
const config = workerData as WorkerConfig;
const send = (message: FromWorker) => port.postMessage(message);

async function start(): Promise<void> {
  const strategy = await loadStrategy(config.strategy);
  const unavailable = strategy.unavailableReason();
  if (unavailable !== null) throw new Error(`strategy ${strategy.name} is not available here: ${unavailable}`);
  const serial = new SerialBuffer();
  const board = buildHostedBoard(config, serial);
  const ram: RamRegion[] = [];
  let vm: Vm;
  try {
    vm = strategy.createVm({
      ...board.spec,
      ramBacking: (region) => {
        if (region.rom) return undefined;
        const buffer = new SharedArrayBuffer(region.size);
        ram.push({ base: region.base, buffer });
        return buffer;
      },
    });
  } catch (error) {
    board.destroy();
    throw error;
  }
  let session: VmSession;
  try {
    board.attach(vm.memory, vm.setA20?.bind(vm));
    const vcpu = vm.createVcpu(0);
    const others: Vcpu[] = [];
    const boot = config.machine.boot;
    if (boot.kind === 'xen-pv') {
      // The strategy builds the domain and loads the vCPU's first state itself (vmm-api's PV seam).
      if (!vm.buildPvDomain) throw new Error(`strategy ${strategy.name} cannot boot a para-virtualized (Xen PV) kernel; use --vmm para`);
      const pv = vm.buildPvDomain({
        image: boot.image, cmdline: boot.cmdline, initrd: boot.initrd, console: board.pv.console, disk: board.pv.disk, clock: board.clock,
        vcpus: boot.vcpus,
      });
      board.pv.connect(pv);
      for (let index = 1; index < (boot.vcpus ?? 1); index++) others.push(vm.createVcpu(index));
    } else {
      const entry = board.load(vm.memory);
      vcpu.setSpecialRegisters(entry.sregs);
      vcpu.setRegisters(entry.regs);
    }
    const clock = board.clock.kind === 'virtual'
      ? virtualLoopClock(board.clock, { paced: config.paced })
      : hostLoopClock(board.clock);
    const loop = new RunLoop({ vcpu, others, clock, interrupts: board.spec.interrupts, pendingEnd: () => board.pendingEnd() });
    session = new VmSession(
      {
        loop, clock, vcpu, stats: board.spec.stats,
        postCode: () => board.postCode(),
        serialInput: (bytes) => board.serialInput(bytes),
        pressPowerButton: () => board.pressPowerButton(),
        serialOutputAcknowledged: (count) => board.serialOutputAcknowledged(count),
        takeSerialOutput: () => serial.take(),
        destroy: () => {
          vm.destroy();
          board.destroy();
        },
      },
      send,
      { serialInput: config.serialInput },
    );
  } catch (error) {
    vm.destroy();
    board.destroy();
    throw error;
  }
  port!.on('message', (message: ToWorker) => session.handle(message));
  send({ type: 'ready', ram });
  session.start();
}

start().catch((error: unknown) => {
  send({ type: 'failed', message: error instanceof Error ? error.message : String(error) });
});
