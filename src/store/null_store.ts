/**
 * The null data backend: writes go nowhere, for measuring everything but storage. Reading a blob back is
 * impossible by design and reported as a missing blob.
 */
import {
  BlobNotFoundError,
  type BlockStore,
  type Encoding,
  type StoredBlob,
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
  close(): Promise<void> {
    return Promise.resolve();
  }
}
