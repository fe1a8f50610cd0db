import { createWriteStream, type WriteStream } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';

/** Where a VM's first serial port goes on the host. */
export type SerialOption =
  /** Output is dropped and no input arrives. */
  | { readonly kind: 'none' }
  /**
   * The caller's terminal: output to `write`, input through `HostedVm.sendSerial`. When `write`
   * returns a promise, the guest may have at most a bounded amount of output unwritten (it waits,
   * as on a line with flow control, until the promise settles); otherwise output is unthrottled.
   */
  | { readonly kind: 'console'; readonly write: (bytes: Uint8Array) => void | Promise<void> }
  /** Output written to a host file (truncated first); no input. */
  | { readonly kind: 'file'; readonly path: string }
  /** A TCP server on 127.0.0.1:`port`; one client at a time is the guest's terminal. */
  | { readonly kind: 'tcp'; readonly port: number };

/** The host end of the serial line, on the main thread. */
export interface SerialBackend {
  /** False when no input can ever arrive. */
  readonly hasInput: boolean;
  /** Writes guest output; calls `written` once the sink has taken it (returning its credit). */
  write(bytes: Uint8Array, written: () => void): void;
  /** Flushes and releases host resources. */
  close(): Promise<void>;
}

export interface SerialInput {
  data(bytes: Uint8Array): void;
}

/** Bytes kept for a TCP client that has not connected yet: a boot log, oldest dropped first. */
const TCP_BACKLOG_BYTES = 1 << 20;

class TcpSerial implements SerialBackend {
  readonly hasInput = true;
  private client: Socket | null = null;
  private backlog: Uint8Array[] = [];
  private backlogBytes = 0;

  constructor(private readonly server: Server, input: SerialInput) {
    server.on('connection', (socket) => {
      if (this.client) {
        socket.end('serial port busy: another client is connected\r\n');
        return;
      }
      this.client = socket;
      socket.setNoDelay(true);
      for (const chunk of this.backlog) socket.write(chunk);
      this.backlog = [];
      this.backlogBytes = 0;
      socket.on('data', (data: Buffer) => input.data(new Uint8Array(data)));
      socket.on('error', () => socket.destroy());
      socket.on('close', () => { if (this.client === socket) this.client = null; });
    });
  }

  get port(): number {
    const address = this.server.address();
    return typeof address === 'object' && address !== null ? address.port : 0;
  }

  write(bytes: Uint8Array, written: () => void): void {
    if (this.client) {
      // A connected client that stops reading holds the guest back (the credit is returned only
      // as the socket takes the bytes), so nothing accumulates here without end.
      this.client.write(bytes, () => written());
      return;
    }
    // No client yet: the guest must not wait for one; keep a bounded boot log instead.
    this.backlog.push(bytes);
    this.backlogBytes += bytes.length;
    while (this.backlogBytes > TCP_BACKLOG_BYTES) this.backlogBytes -= this.backlog.shift()!.length;
    written();
  }

  close(): Promise<void> {
    this.client?.end();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

class FileSerial implements SerialBackend {
  readonly hasInput = false;
  constructor(private readonly stream: WriteStream) {}

  write(bytes: Uint8Array, written: () => void): void {
    this.stream.write(bytes, () => written());
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.stream.end(() => resolve()));
  }
}

function listen(port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', (error: NodeJS.ErrnoException) => {
      reject(new Error(`cannot listen on 127.0.0.1:${port} for the serial port: ${error.code ?? error.message}`));
    });
    server.listen({ host: '127.0.0.1', port }, () => resolve(server));
  });
}

function openFile(path: string): Promise<WriteStream> {
  return new Promise((resolve, reject) => {
    const stream = createWriteStream(path, { flags: 'w' });
    stream.once('open', () => resolve(stream));
    stream.once('error', (error: NodeJS.ErrnoException) => {
      reject(new Error(`cannot open serial output file ${path}: ${error.code ?? error.message}`));
    });
  });
}

/** Opens the host side of the serial option; `input` receives what the host sends the guest. */
export async function openSerialBackend(option: SerialOption, input: SerialInput): Promise<SerialBackend> {
  switch (option.kind) {
    case 'none':
      return { hasInput: false, write: (_bytes, written) => written(), close: async () => {} };
    case 'console': {
      const sink = option.write;
      return {
        hasInput: true,
        write: (bytes, written) => {
          const pending = sink(bytes);
          if (pending) pending.then(written, written);
          else written();
        },
        close: async () => {},
      };
    }
    case 'file':
      return new FileSerial(await openFile(option.path));
    case 'tcp':
      if (!Number.isInteger(option.port) || option.port < 0 || option.port > 65535) {
        throw new Error(`serial TCP port ${option.port} is not a port number (0..65535)`);
      }
      return new TcpSerial(await listen(option.port), input);
  }
}

/** The port a TCP serial backend listens on (useful with port 0). */
export function listeningPort(backend: SerialBackend): number | null {
  return backend instanceof TcpSerial ? backend.port : null;
}
