/**
 * A block store in memory: for fast engine and wrapper tests, and the simplest example of the store contract
 * (src/store/conformance.ts runs the same suite against it as against the file and S3 stores). Not reachable
 * from a configuration.
 */
import {
  assertPlain,
  BlobNotFoundError,
  type BlockStore,
  checkMetaName,
  type Encoding,
  type MetaKind,
  MetaNotFoundError,
  type StoredBlob,
  type StoredMeta,
  type Written,
  writtenPlain,
} from "./block_store.ts";

interface Entry {
  data: Uint8Array;
  modified: Date;
}

export class MemoryStore implements BlockStore {
  private readonly blobs = new Map<string, Entry>();
  /** Metadata objects by `{kind}/{name}`. */
  private readonly metas = new Map<string, { data: Uint8Array; modified: Date }>();

  /** How many blobs it holds. */
  get size(): number {
    return this.blobs.size;
  }

  write(uid: string, data: Uint8Array): Promise<Written> {
    // A copy: callers reuse their buffers as soon as the write resolves.
    this.blobs.set(uid, { data: data.slice(), modified: new Date() });
    return Promise.resolve(writtenPlain(data.length));
  }

  flush(): Promise<void> {
    return Promise.resolve();
  }

  // deno-lint-ignore require-await
  async read(uid: string, encoding: Encoding, into?: ArrayBuffer): Promise<Uint8Array> {
    assertPlain(uid, encoding);
    const entry = this.blobs.get(uid);
    if (!entry) throw new BlobNotFoundError(uid, `Blob ${uid} not found.`);
    const size = entry.data.length;
    const data = into && into.byteLength >= size ? new Uint8Array(into, 0, size) : new Uint8Array(size);
    data.set(entry.data);
    return data;
  }

  remove(uid: string): Promise<boolean> {
    return Promise.resolve(this.blobs.delete(uid));
  }

  removeMany(uids: string[]): Promise<string[]> {
    return Promise.resolve(uids.filter((uid) => !this.blobs.delete(uid)));
  }

  async *list(prefix = "", startAfter = ""): AsyncIterable<StoredBlob> {
    const uids = [...this.blobs.keys()].filter((uid) => uid.startsWith(prefix) && uid > startAfter).sort();
    for (const uid of uids) {
      const entry = this.blobs.get(uid);
      if (entry) yield { uid, modified: entry.modified };
    }
  }

  removeUnfinished(_prefix?: string): Promise<number> {
    return Promise.resolve(0);
  }

  // deno-lint-ignore require-await
  async writeMeta(kind: MetaKind, name: string, data: Uint8Array): Promise<void> {
    checkMetaName(kind, name);
    this.metas.set(`${kind}/${name}`, { data: data.slice(), modified: new Date() });
  }

  readMeta(kind: MetaKind, name: string): Promise<Uint8Array> {
    const entry = this.metas.get(`${kind}/${name}`);
    if (!entry) return Promise.reject(new MetaNotFoundError(name, `Metadata object ${kind}/${name} not found.`));
    return Promise.resolve(entry.data.slice());
  }

  listMeta(kind: MetaKind): Promise<StoredMeta[]> {
    const prefix = `${kind}/`;
    const found = [...this.metas].filter(([key]) => key.startsWith(prefix))
      .map(([key, { modified }]) => ({ name: key.slice(prefix.length), modified }));
    return Promise.resolve(found.sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  removeMeta(kind: MetaKind, name: string): Promise<boolean> {
    return Promise.resolve(this.metas.delete(`${kind}/${name}`));
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
