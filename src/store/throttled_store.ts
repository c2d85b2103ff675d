/**
 * Bandwidth limits for a block store (`bandwidth_read`, `bandwidth_write` in bytes/s, 0 = unlimited): a
 * wrapper that passes every call on to the store inside it after taking the bytes from a shared bucket.
 */
import type { BlockStore, Encoding, MetaKind, Written } from "./block_store.ts";
import { StoreWrapper } from "./store_wrapper.ts";
import { TokenBucket } from "./token_bucket.ts";

export class ThrottledStore extends StoreWrapper {
  private readonly reads: TokenBucket | null;
  private readonly writes: TokenBucket | null;

  constructor(inner: BlockStore, bandwidthRead: number, bandwidthWrite: number) {
    super(inner);
    this.reads = bandwidthRead > 0 ? new TokenBucket(bandwidthRead) : null;
    this.writes = bandwidthWrite > 0 ? new TokenBucket(bandwidthWrite) : null;
  }

  /** The store itself when no limit is set, else the throttling wrapper. */
  static wrap(inner: BlockStore, bandwidthRead: number, bandwidthWrite: number): BlockStore {
    return bandwidthRead > 0 || bandwidthWrite > 0 ? new ThrottledStore(inner, bandwidthRead, bandwidthWrite) : inner;
  }

  override async write(uid: string, data: Uint8Array): Promise<Written> {
    await this.writes?.take(data.length);
    return await this.inner.write(uid, data);
  }

  override async read(uid: string, encoding: Encoding, into?: ArrayBuffer): Promise<Uint8Array> {
    const data = await this.inner.read(uid, encoding, into);
    await this.reads?.take(data.length);
    return data;
  }

  override async writeMeta(kind: MetaKind, name: string, data: Uint8Array): Promise<void> {
    await this.writes?.take(data.length);
    await this.inner.writeMeta(kind, name, data);
  }

  override async readMeta(kind: MetaKind, name: string): Promise<Uint8Array> {
    const data = await this.inner.readMeta(kind, name);
    await this.reads?.take(data.length);
    return data;
  }
}
