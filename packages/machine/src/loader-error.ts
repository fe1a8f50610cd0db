/** Which loader rejected the image; the CLI prints `format: message` as one line. */
export type LoaderFormat = 'firmware' | 'flat' | 'multiboot' | 'elf' | 'linux' | 'initrd' | 'memory-map';

/**
 * The one error every loader throws for bad input (truncated files, bogus header fields, segments
 * outside RAM). Loader input is untrusted, so nothing else may escape a loader.
 */
export class LoaderError extends Error {
  override readonly name = 'LoaderError';
  readonly format: LoaderFormat;

  constructor(format: LoaderFormat, message: string) {
    super(`${format}: ${message}`);
    this.format = format;
  }
}

/** Formats a guest-physical address the way error messages show it. */
export function hex(value: number): string {
  return `0x${value.toString(16)}`;
}
