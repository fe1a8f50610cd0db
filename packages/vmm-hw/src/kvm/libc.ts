// The few libc calls KVM needs, bound with koffi. Loaded on first use so that a missing or broken
// koffi becomes a reason `hwStrategy.unavailableReason()` can give, not an import-time crash.
import { createRequire } from 'node:module';

type Koffi = typeof import('koffi');
type Pointer = bigint;

export interface Libc {
  readonly koffi: Koffi;
  open(path: string, flags: number): number;
  close(fd: number): number;
  /** ioctl whose third argument points at a struct the kernel reads or fills in place. */
  ioctl(fd: number, request: number, arg: Uint8Array | null): number;
  /** ioctl whose third argument is an integer (KVM_CREATE_VCPU, KVM_SET_TSS_ADDR, ...). */
  ioctlValue(fd: number, request: number, arg: number): number;
  /** mmap at a kernel-chosen address, or exactly at `address` (with MAP_FIXED in `flags`). */
  mmap(length: number, prot: number, flags: number, fd: number, offset: number, address?: Pointer): Pointer;
  munmap(address: Pointer, length: number): number;
  errno(): number;
  strerror(errno: number): string;
  gettid(): number;
  timerCreate(clock: number, sigevent: Uint8Array, timerId: Uint8Array): number;
  timerSettime(timer: Pointer, flags: number, value: Uint8Array): number;
  timerDelete(timer: Pointer): number;
  sigaction(signal: number, action: Uint8Array | null, old: Uint8Array | null): number;
  sigrtmin(): number;
  /** Address of a libc function, for handing to the kernel (a signal handler). */
  symbol(name: string): Pointer;
}

export const O_RDWR = 0o2;
export const O_CLOEXEC = 0o2000000;
export const PROT_READ = 1;
export const PROT_WRITE = 2;
export const MAP_SHARED = 0x01;
export const MAP_PRIVATE = 0x02;
export const MAP_FIXED = 0x10;
export const MAP_ANONYMOUS = 0x20;
export const MAP_NORESERVE = 0x4000;
/** mmap's failure value, (void *)-1, as koffi returns pointers: an unsigned 64-bit BigInt. */
export const MAP_FAILED = 0xffff_ffff_ffff_ffffn;
export const EINTR = 4;
export const EAGAIN = 11;
export const E2BIG = 7;

let loaded: Libc | undefined;
let loadError: string | undefined;

/** The binding, or a sentence saying why koffi or libc could not be loaded. */
export function loadLibc(): Libc | string {
  if (loaded) return loaded;
  if (loadError !== undefined) return loadError;
  try {
    loaded = bind();
    return loaded;
  } catch (err) {
    loadError = `koffi failed to load libc: ${(err as Error).message}`;
    return loadError;
  }
}

function bind(): Libc {
  if (process.platform !== 'linux') throw new Error(`KVM exists only on Linux (this is ${process.platform})`);
  const koffi = createRequire(import.meta.url)('koffi') as Koffi;
  const lib = koffi.load('libc.so.6');
  const open = lib.func('int open(const char *path, int flags)');
  const close = lib.func('int close(int fd)');
  const ioctl = lib.func('int ioctl(int fd, unsigned long request, void *arg)');
  const ioctlValue = lib.func('ioctl', 'int', ['int', 'unsigned long', 'unsigned long']);
  const mmap = lib.func('void *mmap(void *addr, size_t length, int prot, int flags, int fd, int64_t offset)');
  const munmap = lib.func('int munmap(void *addr, size_t length)');
  const strerror = lib.func('const char *strerror(int errnum)');
  const syscall = lib.func('long syscall(long number)');
  const timerCreate = lib.func('int timer_create(int clockid, void *sevp, void *timerid)');
  const timerSettime = lib.func('int timer_settime(void *timerid, int flags, void *value, void *old)');
  const timerDelete = lib.func('int timer_delete(void *timerid)');
  const sigaction = lib.func('int sigaction(int signum, void *act, void *oldact)');
  const sigrtmin = lib.func('int __libc_current_sigrtmin()');
  const dlsym = lib.func('void *dlsym(void *handle, const char *name)');
  const SYS_gettid = 186; // x86-64 syscall number; glibc's gettid() wrapper is newer than 2.30 only
  return {
    koffi,
    open: (path, flags) => open(path, flags) as number,
    close: (fd) => close(fd) as number,
    ioctl: (fd, request, arg) => ioctl(fd, request, arg) as number,
    ioctlValue: (fd, request, arg) => ioctlValue(fd, request, arg) as number,
    mmap: (length, prot, flags, fd, offset, address) => {
      const p = mmap(address ?? null, length, prot, flags, fd, offset) as Pointer | null;
      return p === null ? MAP_FAILED : BigInt.asUintN(64, p);
    },
    munmap: (address, length) => munmap(address, length) as number,
    errno: () => koffi.errno(),
    strerror: (errno) => strerror(errno) as string,
    gettid: () => Number(syscall(SYS_gettid)),
    timerCreate: (clock, sigevent, timerId) => timerCreate(clock, sigevent, timerId) as number,
    timerSettime: (timer, flags, value) => timerSettime(timer, flags, value, null) as number,
    timerDelete: (timer) => timerDelete(timer) as number,
    sigaction: (signal, action, old) => sigaction(signal, action, old) as number,
    sigrtmin: () => sigrtmin() as number,
    symbol: (name) => {
      const p = dlsym(null, name) as Pointer | null; // RTLD_DEFAULT is NULL on glibc
      if (p === null || p === 0n) throw new Error(`libc has no symbol ${name}`);
      return p;
    },
  };
}
