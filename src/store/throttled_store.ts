/**
 * Bandwidth limits for a block store (`bandwidth_read`, `bandwidth_write` in bytes/s, 0 = unlimited): a
 * wrapper that passes every call on to the store inside it after taking the bytes from a shared bucket.
 */
import type { BlockStore, Encoding } from "./block_store.ts";
import { TokenBucket } from "./token_bucket.ts";

export class ThrottledStore implements BlockStore {
  private readonly reads: TokenBucket | null;
  private readonly writes: TokenBucket | null;

  constructor(private readonly inner: BlockStore, bandwidthRead: number, bandwidthWrite: number) {
    this.reads = bandwidthRead > 0 ? new TokenBucket(bandwidthRead) : null;
    this.writes = bandwidthWrite > 0 ? new TokenBucket(bandwidthWrite) : null;
  }

  /** The store itself when no limit is set, else the throttling wrapper. */
  static wrap(inner: BlockStore, bandwidthRead: number, bandwidthWrite: number): BlockStore {
    return bandwidthRead > 0 || bandwidthWrite > 0 ? new ThrottledStore(inner, bandwidthRead, bandwidthWrite) : inner;
  }

  async write(uid: string, data: Uint8Array): Promise<Encoding> {
    await this.writes?.take(data.length);
    return await this.inner.write(uid, data);
  }

  async read(uid: string, encoding: Encoding, into?: ArrayBuffer): Promise<Uint8Array> {
    const data = await this.inner.read(uid, encoding, into);
    await this.reads?.take(data.length);
    return data;
  }

  flush(): Promise<void> {
    return this.inner.flush();
  }
  remove(uid: string): Promise<boolean> {
    return this.inner.remove(uid);
  }
  list(prefix?: string): AsyncIterable<string> {
    return this.inner.list(prefix);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}
