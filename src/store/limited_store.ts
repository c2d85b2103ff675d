/**
 * `simultaneous_reads` and `simultaneous_writes` of the [DataBackend] section: a wrapper that lets at most
 * that many blob reads and blob writes reach the store inside at once, whichever pipeline issues them. Metadata
 * objects share the same slots.
 */
import type { BlockStore, Encoding, MetaKind, Written } from "./block_store.ts";
import { StoreWrapper } from "./store_wrapper.ts";
import { Slots } from "../util/slots.ts";

export class LimitedStore extends StoreWrapper {
  private readonly reads: Slots;
  private readonly writes: Slots;

  constructor(inner: BlockStore, simultaneousReads: number, simultaneousWrites: number) {
    super(inner);
    this.reads = new Slots(simultaneousReads);
    this.writes = new Slots(simultaneousWrites);
  }

  override write(uid: string, data: Uint8Array): Promise<Written> {
    return this.writes.run(() => this.inner.write(uid, data));
  }

  override read(uid: string, encoding: Encoding, into?: ArrayBuffer): Promise<Uint8Array> {
    return this.reads.run(() => this.inner.read(uid, encoding, into));
  }

  override writeMeta(kind: MetaKind, name: string, data: Uint8Array): Promise<void> {
    return this.writes.run(() => this.inner.writeMeta(kind, name, data));
  }

  override readMeta(kind: MetaKind, name: string): Promise<Uint8Array> {
    return this.reads.run(() => this.inner.readMeta(kind, name));
  }
}
