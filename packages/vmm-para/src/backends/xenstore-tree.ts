// The store behind the xenstore ring: nodes by absolute path (a node's parents exist with empty
// values, as xenstored keeps them), transactions as overlays applied on commit, and watches fired
// for a changed node and (on removal) the nodes below it: the guest's (events on its ring) and the back
// ends' (handlers in the VMM). Only paths are modelled, not permissions:
// the ring's protocol code decides what the guest may change.

/** A pending change inside a transaction: a new value, or null for a removed subtree. */
type Overlay = Map<string, string | null>;

export interface Watch {
  /** The path as the guest gave it (relative ones are reported relative). */
  readonly given: string;
  readonly absolute: string;
  readonly token: string;
}

/** A back end's watch (a host-side xenbus watch): `handler` runs for each change at or below `absolute`. */
export interface HostWatch {
  readonly absolute: string;
  readonly handler: (path: string) => void;
}

export function isBelow(path: string, root: string): boolean {
  return path === root || path.startsWith(`${root}/`);
}

export class XenstoreTree {
  /** Committed nodes: path → value. */
  readonly nodes = new Map<string, string>();
  readonly watches: Watch[] = [];
  readonly hostWatches: HostWatch[] = [];
  private readonly transactions = new Map<number, Overlay>();
  private nextTransaction = 1;

  constructor(
    private readonly fire: (watch: Watch, path: string) => void,
    private readonly fireHost: (watch: HostWatch, path: string) => void,
  ) {}

  get openTransactions(): number {
    return this.transactions.size;
  }

  /** The value of `path` as transaction `tx` (0: none) sees it, or undefined. */
  read(tx: number, path: string): string | undefined {
    const overlay = this.transactions.get(tx);
    if (overlay) {
      for (const [changed, value] of overlay) {
        if (value === null && isBelow(path, changed)) return undefined;
      }
      const value = overlay.get(path);
      if (typeof value === 'string') return value;
      if (this.hasChildIn(overlay, path)) return this.nodes.get(path) ?? '';
    }
    if (this.nodes.has(path)) return this.nodes.get(path);
    for (const key of this.nodes.keys()) if (key.startsWith(`${path}/`)) return '';
    return undefined;
  }

  private hasChildIn(overlay: Overlay, path: string): boolean {
    for (const [changed, value] of overlay) if (value !== null && changed.startsWith(`${path}/`)) return true;
    return false;
  }

  /** The names directly below `path` as `tx` sees it. */
  children(tx: number, path: string): string[] {
    const names = new Set<string>();
    const prefix = `${path}/`;
    const keys = [...this.nodes.keys(), ...(this.transactions.get(tx)?.keys() ?? [])];
    for (const key of keys) {
      if (!key.startsWith(prefix)) continue;
      const name = key.slice(prefix.length).split('/')[0];
      if (this.read(tx, `${prefix}${name}`) !== undefined) names.add(name);
    }
    return [...names];
  }

  write(tx: number, path: string, value: string): void {
    const overlay = this.transactions.get(tx);
    if (overlay) overlay.set(path, value);
    else this.commitWrite(path, value);
  }

  remove(tx: number, path: string): void {
    const overlay = this.transactions.get(tx);
    if (overlay) {
      for (const key of [...overlay.keys()]) if (isBelow(key, path)) overlay.delete(key);
      overlay.set(path, null);
    } else this.commitRemove(path);
  }

  start(): number {
    // Ids stay below 2^31 and never 0 (XBT_NIL), whatever the guest does.
    const id = this.nextTransaction;
    this.nextTransaction = id >= 0x7fffffff ? 1 : id + 1;
    this.transactions.set(id, new Map());
    return id;
  }

  has(tx: number): boolean {
    return this.transactions.has(tx);
  }

  /** Ends `tx`, applying its changes in order when `commit`. */
  end(tx: number, commit: boolean): void {
    const overlay = this.transactions.get(tx)!;
    this.transactions.delete(tx);
    if (!commit) return;
    for (const [path, value] of overlay) {
      if (value === null) this.commitRemove(path);
      else this.commitWrite(path, value);
    }
  }

  private commitWrite(path: string, value: string): void {
    this.nodes.set(path, value);
    this.changed(path, false);
  }

  private commitRemove(path: string): void {
    for (const key of [...this.nodes.keys()]) if (isBelow(key, path)) this.nodes.delete(key);
    this.changed(path, true);
  }

  /** xenstored's fire_watches: watches on the node or above it, and on removal those below it. */
  private changed(path: string, removed: boolean): void {
    fireMatching(this.watches, this.fire, path, removed);
    fireMatching(this.hostWatches, this.fireHost, path, removed);
  }
}

function fireMatching<W extends { readonly absolute: string }>(watches: readonly W[], fire: (watch: W, path: string) => void, path: string, removed: boolean): void {
  for (const watch of watches) {
    if (isBelow(path, watch.absolute)) fire(watch, path);
    else if (removed && isBelow(watch.absolute, path)) fire(watch, watch.absolute);
  }
}
