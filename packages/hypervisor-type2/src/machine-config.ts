/** What to load into the guest before its first instruction. Images are bytes read by the caller. */
export type BootImage =
  /** A raw binary copied to `address` and entered there in real mode. */
  | { readonly kind: 'flat'; readonly image: Uint8Array; readonly address: number }
  /** A Multiboot (v1) kernel, entered in protected mode with a multiboot info block. */
  | { readonly kind: 'multiboot'; readonly image: Uint8Array; readonly cmdline?: string }
  /** A Linux bzImage through the 32-bit boot protocol. */
  | { readonly kind: 'linux'; readonly kernel: Uint8Array; readonly initrd?: Uint8Array; readonly cmdline?: string }
  /** Nothing but firmware: the CPU starts at the reset vector in `MachineConfig.firmware`. */
  | { readonly kind: 'firmware' }
  /**
   * A para-virtualized kernel (an ELF with Xen's notes): the strategy's own domain builder loads it
   * (`Vm.buildPvDomain`), its console and `disk` become the guest's split devices.
   */
  | {
    readonly kind: 'xen-pv'; readonly image: Uint8Array; readonly cmdline?: string; readonly initrd?: Uint8Array;
    /** The domain's vCPUs (max_vcpus, 1 when absent): the kernel brings up those past the first, all run on the VM's thread. */
    readonly vcpus?: number;
  };

/** The board a hosted VM gets. */
export interface MachineConfig {
  /** Guest RAM in bytes. */
  readonly memory: number;
  readonly boot: BootImage;
  /** A firmware ROM image mapped below 4 GiB (`--bios`). */
  readonly firmware?: Uint8Array;
  /** Host file backing a virtio-blk disk. */
  readonly disk?: string;
  /** Offer `disk` read-only: the file is opened read-only and the guest's writes fail. */
  readonly diskReadOnly?: boolean;
  /**
   * Wall time the RTC shows at power-on, in ms since the Unix epoch (UTC). Default: the host's
   * time when the VM starts. Give a fixed value for runs that must repeat exactly.
   */
  readonly rtcStart?: number;
  /**
   * Seed for virtio-rng's bytes (QEMU's `-seed`): with a virtual clock and a fixed `rtcStart` the
   * whole run repeats. Default: the host's CSPRNG.
   */
  readonly entropySeed?: number;
}
