// Entry point of the platform's device-model thread: every domain's device models, serving the
// pCPUs' I/O requests. It sleeps on the doorbell word with Atomics.wait (until a pCPU rings or the
// next device timer is due) instead of an event loop, so a request costs two futex wake-ups, not a
// turn of the hypervisor's event loop; Xen's ioreq server waits on an event channel the same way.
// Each domain keeps its own board: one thread serves them all, but no device sees another's.
import { parentPort, receiveMessageOnPort, workerData } from 'node:worker_threads';
import { CTRL_ADDRESS, CTRL_DOMAIN, CTRL_KIND, CTRL_REQUEST, CTRL_RESPONSE, CTRL_SIZE, CTRL_VALUE, DOORBELL_RING } from '../pcpu/protocol.js';
import { DomainDevices } from './domain-devices.js';
import type { DmInit, FromDm, ToDm } from './protocol.js';

const parent = parentPort;
if (!parent) throw new Error('the device model must run in a worker thread');
const init = workerData as DmInit;
const doorbell = new Int32Array(init.doorbell);
const controls = init.controls.map((buffer) => new Int32Array(buffer));
const domains = new Map<number, DomainDevices>();
const send = (message: FromDm): void => parent.postMessage(message);

/** The longest sleep without a timer or a request (ms): bounds how late a lost notify could be seen. */
const IDLE_WAIT_MS = 1000;

/** Domains whose devices changed since their line was last mirrored. */
const touched = new Set<DomainDevices>();

/** Applies the hypervisor's messages; false once told to stop. */
function drainMessages(): boolean {
  for (;;) {
    const received = receiveMessageOnPort(init.port);
    if (received === undefined) return true;
    const message = received.message as ToDm;
    switch (message.type) {
      case 'create':
        try {
          domains.set(message.domain, new DomainDevices(init.pool, message, init.doorbell, true));
        } catch (error) {
          send({ type: 'error', domain: message.domain, message: error instanceof Error ? error.message : String(error), fatal: true });
        }
        break;
      case 'input':
      case 'power-button': {
        const devices = domains.get(message.domain);
        if (devices) {
          if (message.type === 'input') devices.input(message.bytes);
          else devices.pressPowerButton();
          touched.add(devices);
        }
        break;
      }
      case 'drop':
        domains.get(message.domain)?.close();
        domains.delete(message.domain);
        send({ type: 'dropped', domain: message.domain });
        break;
      case 'stop':
        for (const devices of domains.values()) devices.close();
        return false;
    }
  }
}

function serve(ctrl: Int32Array, sequence: number): void {
  const id = ctrl[CTRL_DOMAIN];
  // A vCPU's first request can overtake its domain's create message on the way here: drain again.
  let devices = domains.get(id);
  if (!devices) {
    drainMessages();
    devices = domains.get(id);
  }
  let value = 0xffffffff;
  if (devices) {
    try {
      value = devices.serve(ctrl[CTRL_KIND], ctrl[CTRL_ADDRESS] >>> 0, ctrl[CTRL_SIZE], ctrl[CTRL_VALUE] >>> 0);
    } catch (error) {
      // A device model that fails answers as an undriven bus; the hypervisor hears of it.
      send({ type: 'error', domain: id, message: error instanceof Error ? error.message : String(error) });
    }
    touched.add(devices);
    // An end (exit port, power-off, reset) reaches the hypervisor through the vCPU's pCPU once it
    // sees this answer: the guest's last console bytes go first.
    if (devices.ended) {
      const output = devices.takeOutput();
      if (output) send({ type: 'console', domain: id, bytes: output });
    }
  }
  ctrl[CTRL_VALUE] = value | 0;
  Atomics.store(ctrl, CTRL_RESPONSE, sequence);
  Atomics.notify(ctrl, CTRL_RESPONSE);
}

/** One pass: messages, waiting requests, due timers, then the lines and console output they changed. Returns the sleep (ms). */
function pass(): number | null {
  if (!drainMessages()) return null;
  for (const ctrl of controls) {
    const sequence = Atomics.load(ctrl, CTRL_REQUEST);
    if (sequence !== Atomics.load(ctrl, CTRL_RESPONSE)) serve(ctrl, sequence);
  }
  let sleep = IDLE_WAIT_MS;
  for (const [id, devices] of domains) {
    // Disk requests whose I/O thread answered (it rang the doorbell), and completions whose fence passed.
    if (devices.pollDisk()) touched.add(devices);
    let due = devices.msUntilNextTimer();
    if (due === 0) {
      devices.runDue();
      touched.add(devices);
      due = devices.msUntilNextTimer();
    }
    if (due !== null) sleep = Math.min(sleep, due);
    if (touched.has(devices)) {
      if (devices.syncLine()) send({ type: 'wake', domain: id });
      const output = devices.takeOutput();
      if (output) send({ type: 'console', domain: id, bytes: output });
    }
  }
  touched.clear();
  return sleep;
}

send({ type: 'ready' });
for (;;) {
  // Read the doorbell before looking: a ring after this read makes the wait return at once.
  const ring = Atomics.load(doorbell, DOORBELL_RING);
  const sleep = pass();
  if (sleep === null) break;
  if (sleep > 0) Atomics.wait(doorbell, DOORBELL_RING, ring, sleep);
}
