// The control socket as `ringvisor xl` uses it, for the tests: one request and its response, or a
// console attached over it.
import { connect, type Socket } from 'node:net';
import type { ControlRequest, ControlResponse } from '../dist/index.js';

/** One request on the control socket; resolves with the response once the server closes the connection. */
export function xl(path: string, request: ControlRequest): Promise<ControlResponse> {
  return new Promise((resolve, reject) => {
    const socket = connect(path);
    let text = '';
    socket.on('data', (chunk) => { text += chunk.toString('utf8'); });
    socket.on('end', () => resolve(JSON.parse(text.split('\n')[0]) as ControlResponse));
    socket.on('error', reject);
    socket.write(JSON.stringify(request) + '\n');
  });
}

/** `xl console DOM`: what the domain printed (from its kept history on), and a way to type at it. */
export function attachConsole(path: string, domain: string): { output: () => string; type: (text: string) => void; close: () => void } {
  const socket: Socket = connect(path);
  let received = '';
  socket.on('data', (chunk) => { received += chunk.toString('latin1'); });
  socket.write(JSON.stringify({ cmd: 'console', domain } satisfies ControlRequest) + '\n');
  return {
    // After the response line, the console's bytes.
    output: () => received.slice(received.indexOf('\n') + 1),
    type: (text) => socket.write(text),
    close: () => socket.destroy(),
  };
}
