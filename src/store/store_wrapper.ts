/**
 * The base of block-store wrappers (encryption, throttling): every call goes to the store inside unless the
 * wrapper overrides it, so a wrapper states only what it changes.
 */
import type { BlockStore, Encoding } from "./block_store.ts";

export abstract class StoreWrapper implements BlockStore {
  constructor(protected readonly inner: BlockStore) {}

  write(uid: string, data: Uint8Array): Promise<Encoding> {
    return this.inner.write(uid, data);
  }
  flush(): Promise<void> {
    return this.inner.flush();
  }
  read(uid: string, encoding: Encoding, into?: ArrayBuffer): Promise<Uint8Array> {
    return this.inner.read(uid, encoding, into);
  }
  remove(uid: string): Promise<boolean> {
    return this.inner.remove(uid);
  }
  list(prefix?: string): AsyncIterable<string> {
    return this.inner.list(prefix);
  }
  removeUnfinished(prefix?: string): Promise<number> {
    return this.inner.removeUnfinished(prefix);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}
