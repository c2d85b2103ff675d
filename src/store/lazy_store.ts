/**
 * A block store that is opened on first use: the backend's code (for S3, the HTTP client) loads, and the
 * backend checks its settings (for S3, that the bucket answers), only when a command touches blobs. Commands
 * that never do (`ls`, `stats`, ...) pay nothing for it. {@link LazyStore.open} opens it on purpose, before a
 * command changes anything, so that an unusable store fails the command while nothing is changed yet.
 */
import type { BlockStore, Encoding, MetaKind, StoredBlob, StoredMeta, Written } from "./block_store.ts";

export class LazyStore implements BlockStore {
  private opening: Promise<BlockStore> | null = null;

  constructor(private readonly opener: () => Promise<BlockStore>) {}

  /** The backend, opened once; a failed open fails every later call the same way. */
  open(): Promise<BlockStore> {
    this.opening ??= this.opener();
    return this.opening;
  }

  async write(uid: string, data: Uint8Array): Promise<Written> {
    return await (await this.open()).write(uid, data);
  }
  async flush(): Promise<void> {
    await (await this.open()).flush();
  }
  async read(uid: string, encoding: Encoding, into?: ArrayBuffer): Promise<Uint8Array> {
    return await (await this.open()).read(uid, encoding, into);
  }
  async remove(uid: string): Promise<boolean> {
    return await (await this.open()).remove(uid);
  }
  async removeMany(uids: string[]): Promise<string[]> {
    return await (await this.open()).removeMany(uids);
  }
  async *list(prefix?: string, startAfter?: string): AsyncIterable<StoredBlob> {
    yield* (await this.open()).list(prefix, startAfter);
  }
  async removeUnfinished(prefix?: string): Promise<number> {
    return await (await this.open()).removeUnfinished(prefix);
  }
  async writeMeta(kind: MetaKind, name: string, data: Uint8Array): Promise<void> {
    await (await this.open()).writeMeta(kind, name, data);
  }
  async readMeta(kind: MetaKind, name: string): Promise<Uint8Array> {
    return await (await this.open()).readMeta(kind, name);
  }
  async listMeta(kind: MetaKind): Promise<StoredMeta[]> {
    return await (await this.open()).listMeta(kind);
  }
  async removeMeta(kind: MetaKind, name: string): Promise<boolean> {
    return await (await this.open()).removeMeta(kind, name);
  }

  /** Closes the backend if it was opened; never opens it. */
  async close(): Promise<void> {
    if (!this.opening) return;
    const store = await this.opening.catch(() => null);
    await store?.close();
  }
}
