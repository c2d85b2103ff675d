/**
 * The base of block-store wrappers (encryption, throttling, retries): every call goes to the store inside unless the
 * wrapper overrides it, so a wrapper states only what it changes.
 */
import type { BlockStore, Encoding, MetaKind, StoredBlob, StoredMeta, Written } from "./block_store.ts";

export abstract class StoreWrapper implements BlockStore {
  constructor(protected readonly inner: BlockStore) {}

  write(uid: string, data: Uint8Array): Promise<Written> {
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
  removeMany(uids: string[]): Promise<string[]> {
    return this.inner.removeMany(uids);
  }
  list(prefix?: string, startAfter?: string): AsyncIterable<StoredBlob> {
    return this.inner.list(prefix, startAfter);
  }
  removeUnfinished(prefix?: string): Promise<number> {
    return this.inner.removeUnfinished(prefix);
  }
  writeMeta(kind: MetaKind, name: string, data: Uint8Array): Promise<void> {
    return this.inner.writeMeta(kind, name, data);
  }
  readMeta(kind: MetaKind, name: string): Promise<Uint8Array> {
    return this.inner.readMeta(kind, name);
  }
  listMeta(kind: MetaKind): Promise<StoredMeta[]> {
    return this.inner.listMeta(kind);
  }
  removeMeta(kind: MetaKind, name: string): Promise<boolean> {
    return this.inner.removeMeta(kind, name);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}
