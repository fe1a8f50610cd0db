// The /dev/kvm descriptor: opening it, the API version check, capabilities, and the VM-wide
// answers (vCPU mmap size, supported CPUID) that every VM on this host shares.
import {
  KVM_API_VERSION, KVM_CHECK_EXTENSION, KVM_CREATE_VM, KVM_GET_API_VERSION, KVM_GET_SUPPORTED_CPUID,
  KVM_GET_VCPU_MMAP_SIZE,
} from './constants.js';
import { KVM_CPUID2, KVM_CPUID_ENTRY2, KVM_MAX_CPUID_ENTRIES } from './layout.js';
import { E2BIG, loadLibc, O_CLOEXEC, O_RDWR, type Libc } from './libc.js';

export const KVM_DEVICE = '/dev/kvm';

/** A failed KVM or libc call, with the call's name and errno. */
export class KvmError extends Error {
  constructor(readonly call: string, readonly errno: number, message: string) {
    super(`${call}: ${message} (errno ${errno})`);
    this.name = 'KvmError';
  }
}

/** Throws a KvmError for a -1 return, with errno's text. */
export function check(libc: Libc, call: string, result: number): number {
  if (result < 0) {
    const errno = libc.errno();
    throw new KvmError(call, errno, libc.strerror(errno));
  }
  return result;
}

export class KvmSystem {
  private cpuid: Uint8Array | undefined;
  private closed = false;

  private constructor(readonly libc: Libc, readonly fd: number, readonly vcpuMmapSize: number) {}

  /** Opens /dev/kvm and checks the API version; returns a sentence instead when that fails. */
  static open(device = KVM_DEVICE): KvmSystem | string {
    const libc = loadLibc();
    if (typeof libc === 'string') return libc;
    const fd = libc.open(device, O_RDWR | O_CLOEXEC);
    if (fd < 0) {
      const errno = libc.errno();
      const why = errno === 2 ? 'it does not exist (no KVM module loaded, or not Linux on a VT-x/AMD-V host)'
        : errno === 13 || errno === 1 ? 'permission denied (add the user to the kvm group)'
          : libc.strerror(errno);
      return `cannot open ${device}: ${why}`;
    }
    const version = libc.ioctlValue(fd, KVM_GET_API_VERSION, 0);
    if (version !== KVM_API_VERSION) {
      const errno = libc.errno();
      libc.close(fd);
      return version < 0
        ? `${device} is not a KVM device (KVM_GET_API_VERSION: ${libc.strerror(errno)})`
        : `${device} speaks KVM API version ${version}, this backend needs ${KVM_API_VERSION}`;
    }
    const mmapSize = libc.ioctlValue(fd, KVM_GET_VCPU_MMAP_SIZE, 0);
    if (mmapSize <= 0) {
      libc.close(fd);
      return `${device} refused KVM_GET_VCPU_MMAP_SIZE`;
    }
    return new KvmSystem(libc, fd, mmapSize);
  }

  /** KVM_CHECK_EXTENSION: 0 when absent, otherwise a capability-specific positive value. */
  capability(cap: number): number {
    return Math.max(0, this.libc.ioctlValue(this.fd, KVM_CHECK_EXTENSION, cap));
  }

  createVm(): number {
    return check(this.libc, 'KVM_CREATE_VM', this.libc.ioctlValue(this.fd, KVM_CREATE_VM, 0));
  }

  /** A struct kvm_cpuid2 holding every leaf this host's KVM can expose, ready for KVM_SET_CPUID2. */
  supportedCpuid(): Uint8Array {
    for (let room = KVM_MAX_CPUID_ENTRIES; !this.cpuid; room *= 2) {
      const buf = new Uint8Array(KVM_CPUID2.header + room * KVM_CPUID_ENTRY2.size);
      new DataView(buf.buffer).setUint32(KVM_CPUID2.nent, room, true);
      const rc = this.libc.ioctl(this.fd, KVM_GET_SUPPORTED_CPUID, buf);
      if (rc >= 0) this.cpuid = buf;
      else if (this.libc.errno() !== E2BIG || room >= 16 * KVM_MAX_CPUID_ENTRIES) check(this.libc, 'KVM_GET_SUPPORTED_CPUID', rc);
    }
    return this.cpuid;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.libc.close(this.fd);
  }
}
