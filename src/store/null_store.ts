/**
 * The null data backend: writes go nowhere, for measuring everything but storage. Reading a blob (or a metadata
 * object) back is impossible by design and reported as a missing one.
 */
import {
  BlobNotFoundError,
  type BlockStore,
  type Encoding,
  type MetaKind,
  MetaNotFoundError,
  type StoredBlob,
  type StoredMeta,
  type Written,
  writtenPlain,
} from "./block_store.ts";

export class NullStore implements BlockStore {
  write(_uid: string, data: Uint8Array): Promise<Written> {
    return Promise.resolve(writtenPlain(data.length));
  }
  flush(): Promise<void> {
    return Promise.resolve();
  }
  read(uid: string, _encoding: Encoding): Promise<Uint8Array> {
    return Promise.reject(
      new BlobNotFoundError(uid, `Blob ${uid} was written to the null backend, which keeps nothing.`),
    );
  }
  remove(_uid: string): Promise<boolean> {
    return Promise.resolve(true);
  }
  removeMany(_uids: string[]): Promise<string[]> {
    return Promise.resolve([]);
  }
  async *list(_prefix?: string, _startAfter?: string): AsyncIterable<StoredBlob> {}
  removeUnfinished(_prefix?: string): Promise<number> {
    return Promise.resolve(0);
  }
  writeMeta(_kind: MetaKind, _name: string, _data: Uint8Array): Promise<void> {
    return Promise.resolve();
  }
  readMeta(kind: MetaKind, name: string): Promise<Uint8Array> {
    return Promise.reject(new MetaNotFoundError(name, `Metadata object ${kind}/${name} went to the null backend.`));
  }
  listMeta(_kind: MetaKind): Promise<StoredMeta[]> {
    return Promise.resolve([]);
  }
  removeMeta(_kind: MetaKind, _name: string): Promise<boolean> {
    return Promise.resolve(true);
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}
