/** The x86 page size loaders align kernels, modules, initrds and boot blocks to. */
export const PAGE_SIZE = 4096;

/** `value` rounded up to a page boundary. */
export function pageAlignUp(value: number): number {
  return Math.ceil(value / PAGE_SIZE) * PAGE_SIZE;
}

/** `value` rounded down to a page boundary. */
export function pageAlignDown(value: number): number {
  return Math.floor(value / PAGE_SIZE) * PAGE_SIZE;
}
