// The client side of the type-1 hypervisor's control socket (`@ringvisor/hypervisor-type1`'s protocol).
import { connect, type Socket } from 'node:net';
import type { ControlRequest, ControlResponse } from '@ringvisor/hypervisor-type1';

/** Sends one request and resolves with the response and the socket (still open after `console`). */
export function controlRequest(path: string, request: ControlRequest): Promise<{ response: ControlResponse; socket: Socket; rest: Buffer }> {
  return new Promise((resolve, reject) => {
    const socket = connect(path);
    let buffered = Buffer.alloc(0);
    socket.once('error', (error: NodeJS.ErrnoException) => {
      reject(error.code === 'ENOENT' || error.code === 'ECONNREFUSED'
        ? new Error(`no hypervisor listens on ${path} (start one with ringvisor type1 PLATFORM.json)`)
        : error);
    });
    socket.once('connect', () => socket.write(JSON.stringify(request) + '\n'));
    const onData = (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      const newline = buffered.indexOf(0x0a);
      if (newline < 0) return;
      socket.off('data', onData);
      const response = JSON.parse(buffered.subarray(0, newline).toString('utf8')) as ControlResponse;
      resolve({ response, socket, rest: buffered.subarray(newline + 1) });
    };
    socket.on('data', onData);
  });
}
