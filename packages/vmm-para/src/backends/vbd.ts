// One virtual block device of a domain, as Xen's toolstack and dom0's blkback set it up through
// xenstore: the toolstack writes the front end's and back end's nodes (front end Initialising, back
// end InitWait); the back end watches the front end's state, and when the front end reaches
// Initialised (its ring granted, its event channel allocated, its ABI named in `protocol`) it maps
// the ring, binds the port, publishes the disk's size and features and goes Connected. A front end
// whose nodes are missing, malformed or name a ring or port it cannot use gets no connection: the
// back end writes an `error` node and stays in InitWait, as blkback's connect failure leaves it.
import type { PhysicalMemory } from '@ringvisor/mmu';
import type { PvBlockDevice } from '@ringvisor/vmm-api';
import { GUEST_DOMID } from '../abi.js';
import type { EventChannels } from '../events.js';
import { BLKIF_PROTOCOLS, BlkifBackend } from './blkif.js';
import type { GrantTable } from './grant-table.js';
import type { Xenstore } from './xenstore.js';

/** The virtual device number: 768 is xl's `hda`, which Linux's blkfront names xvda. */
export const VBD_DEVICE = 768;
/** XenbusState values (io/xenbus.h). */
const INITIALISING = '1';
const INIT_WAIT = '2';
const INITIALISED = '3';
const CONNECTED = '4';
/** VDISK_READONLY in the `info` node. */
const VDISK_READONLY = 4;

/** What the back end needs of the domain it serves (32- and 64-bit domains alike). */
export interface VbdDomain {
  readonly memory: PhysicalMemory;
  readonly events: Pick<EventChannels, 'connectBackend' | 'setPending'>;
  refuse(): void;
  count(what: string): void;
}

export class VirtualBlockDevice {
  blkif: BlkifBackend | null = null;
  readonly frontend: string;
  readonly backend: string;

  constructor(
    private readonly store: Xenstore,
    private readonly grants: GrantTable,
    private readonly domain: VbdDomain,
    private readonly disk: PvBlockDevice,
    /** The ABI of the domain's kernel, for a front end that names none in `protocol`. */
    private readonly nativeProtocol: 'x86_32-abi' | 'x86_64-abi',
  ) {
    this.frontend = `${store.home}/device/vbd/${VBD_DEVICE}`;
    this.backend = `/local/domain/0/backend/vbd/${GUEST_DOMID}/${VBD_DEVICE}`;
    const nodes = store.tree;
    nodes.set(`${this.frontend}/backend`, this.backend);
    nodes.set(`${this.frontend}/backend-id`, '0');
    nodes.set(`${this.frontend}/virtual-device`, String(VBD_DEVICE));
    nodes.set(`${this.frontend}/device-type`, 'disk');
    nodes.set(`${this.frontend}/state`, INITIALISING);
    nodes.set(`${this.backend}/frontend`, this.frontend);
    nodes.set(`${this.backend}/frontend-id`, String(GUEST_DOMID));
    nodes.set(`${this.backend}/mode`, disk.readOnly ? 'r' : 'w');
    nodes.set(`${this.backend}/state`, INIT_WAIT);
    store.watch(`${this.frontend}/state`, () => this.frontendChanged());
  }

  private frontendChanged(): void {
    if (this.blkif !== null || this.store.read(`${this.frontend}/state`) !== INITIALISED) return;
    const failure = this.connect();
    if (failure !== null) {
      this.domain.refuse();
      this.store.publish(`${this.backend}/error`, failure);
    }
  }

  /** blkback's connect_ring: null once Connected, else why not. */
  private connect(): string | null {
    const read = (name: string) => this.store.read(`${this.frontend}/${name}`);
    const ref = decimal(read('ring-ref'));
    const port = decimal(read('event-channel'));
    if (ref === null || port === null) return 'reading ring-ref and event-channel';
    const protocol = read('protocol') ?? this.nativeProtocol;
    const layout = BLKIF_PROTOCOLS.get(protocol);
    if (layout === undefined) return `unknown fe protocol ${protocol}`;
    const ring = this.grants.map(ref, true);
    if (typeof ring === 'number') return `mapping ring-ref ${ref}`;
    const domain = this.domain;
    const blkif = new BlkifBackend(domain.memory, ring, this.grants, this.disk, {
      notify: () => domain.events.setPending(port),
      refuse: () => domain.refuse(),
      countRequest: () => domain.count('ring requests'),
    }, layout);
    if (!domain.events.connectBackend(port, () => blkif.kick())) {
      this.grants.unmap(ring);
      return `binding event-channel ${port}`;
    }
    this.blkif = blkif;
    const publish = (name: string, value: string) => this.store.publish(`${this.backend}/${name}`, value);
    publish('sectors', String(blkif.sectors));
    publish('sector-size', '512');
    publish('info', String(this.disk.readOnly ? VDISK_READONLY : 0));
    publish('feature-flush-cache', '1');
    publish('state', CONNECTED);
    return null;
  }
}

/** A xenstore value as xenbus_scanf's "%u" takes it, or null. */
function decimal(value: string | undefined): number | null {
  if (value === undefined || !/^\d{1,10}$/.test(value)) return null;
  const n = Number(value);
  return n <= 0xffffffff ? n : null;
}
