// The UART's two outward seams besides its IRQ: where transmitted bytes go and where host input
// comes from. A terminal, a file, a socket or a test buffer implements `SerialBackend`.

/** What a backend may call on the UART it is connected to. */
export interface SerialHostPort {
  /** Queues host input for the guest; returns how many bytes fit in the bounded input queue. */
  input(bytes: Uint8Array): number;
  /** The backend can take output again after refusing some. */
  writable(): void;
}

export interface SerialBackend {
  /**
   * Bytes the guest transmitted. Returns how many (from the start) were taken. Taking fewer means
   * "full": the UART keeps the rest in its TX FIFO, shows THRE clear, and offers no more until the
   * backend calls `writable()` (later, never from inside `write`). The array is reused by the
   * UART: copy what you keep.
   */
  write(bytes: Uint8Array): number;
  /** After `input` refused bytes: the guest has drained the queue to half, so offer input again. */
  inputRoom?(): void;
  /** Called once by the UART, to hand the backend its host-side face. */
  connect?(port: SerialHostPort): void;
}

/** A backend that keeps output in memory, optionally refusing bytes beyond `capacity` until drained. */
export class BufferSerialBackend implements SerialBackend {
  private chunks: Uint8Array[] = [];
  private size = 0;
  private port: SerialHostPort | undefined;

  constructor(private readonly capacity = Infinity) {}

  connect(port: SerialHostPort): void {
    this.port = port;
  }

  write(bytes: Uint8Array): number {
    const n = Math.min(bytes.length, this.capacity - this.size);
    if (n > 0) {
      this.chunks.push(bytes.slice(0, n));
      this.size += n;
    }
    return n;
  }

  /** Bytes received so far, without draining. */
  peek(): Uint8Array {
    const out = new Uint8Array(this.size);
    let at = 0;
    for (const c of this.chunks) {
      out.set(c, at);
      at += c.length;
    }
    return out;
  }

  /** Received output as text (Latin-1), without draining. */
  text(): string {
    const bytes = this.peek();
    let text = '';
    for (let i = 0; i < bytes.length; i += 4096) text += String.fromCharCode(...bytes.subarray(i, i + 4096));
    return text;
  }

  /** Takes everything received and tells the UART there is room again. */
  drain(): Uint8Array {
    const out = this.peek();
    this.chunks = [];
    this.size = 0;
    this.port?.writable();
    return out;
  }

  /** Sends host input to the guest; returns how many bytes the UART queued. */
  type(input: Uint8Array | string): number {
    const bytes = typeof input === 'string' ? Uint8Array.from(input, (c) => c.charCodeAt(0) & 0xff) : input;
    return this.port?.input(bytes) ?? 0;
  }
}
