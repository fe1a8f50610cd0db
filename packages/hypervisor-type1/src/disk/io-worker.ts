// Entry point of a disk's I/O thread: the domain's disk file, opened here, served one request at a
// time with synchronous positioned I/O (an fsync included), so only this thread waits for the host
// disk and the thread holding the board goes on answering the domains' device accesses. Every
// request is confined to the domain's byte range by DiskExtentBackend, as on the board's thread.
import { workerData } from 'node:worker_threads';
import { DiskExtentBackend } from './disk-extent.js';
import type { DiskIoAnswer, DiskIoInit, DiskIoRequest } from './io-protocol.js';

const init = workerData as DiskIoInit;
const doorbell = init.doorbell ? new Int32Array(init.doorbell) : null;
const closed = new Int32Array(init.closed);
let disk: DiskExtentBackend | null = null;
let openError: string | null = null;
try {
  disk = new DiskExtentBackend(init.extent);
} catch (error) {
  openError = error instanceof Error ? error.message : String(error);
}

function answer(message: DiskIoAnswer, transfer: ArrayBuffer[] = []): void {
  init.port.postMessage(message, transfer);
  if (doorbell) {
    Atomics.add(doorbell, 0, 1);
    Atomics.notify(doorbell, 0);
  }
}

function serve(request: DiskIoRequest, file: DiskExtentBackend): void {
  switch (request.op) {
    case 'read': {
      const data = new Uint8Array(request.length);
      file.read(request.offset, data);
      answer({ id: request.id, error: null, data }, [data.buffer]);
      return;
    }
    case 'write': file.write(request.offset, request.data); break;
    case 'flush': file.flush(); break;
    case 'discard': file.discard(request.offset, request.length); break;
    case 'close': break;
  }
  answer({ id: request.id, error: null });
}

init.port.on('message', (request: DiskIoRequest) => {
  if (request.op === 'close') {
    disk?.close();
    disk = null;
    Atomics.store(closed, 0, 1);
    Atomics.notify(closed, 0);
    init.port.close();
    return;
  }
  if (disk === null) {
    answer({ id: request.id, error: openError ?? 'the disk is closed' });
    return;
  }
  try {
    serve(request, disk);
  } catch (error) {
    answer({ id: request.id, error: error instanceof Error ? error.message : String(error) });
  }
});
