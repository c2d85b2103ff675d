/**
 * The block store: where blob bytes live, addressed by 32-character blob uid.
 *
 * Backends (file, S3, memory, null) implement {@link BlockStore} and keep bytes as given; src/store/registry.ts
 * says which configuration type builds which. Features that wrap a backend (the codecs, throttling, retries)
 * are BlockStores around another one: the codec layer returns the {@link Encoding} it used from `write` and
 * needs it back for `read`, which is why the catalog keeps it per blob (backy2's enc_version, enc_envkey,
 * enc_nonce).
 */

export interface Encoding {
  encVersion: number;
  encEnvkey: string | null;
  encNonce: string | null;
}

export const PLAIN: Encoding = { encVersion: 0, encEnvkey: null, encNonce: null };

/** What a write stored: the blob's encoding and the bytes it takes in the backend. */
export interface Written extends Encoding {
  storedSize: number;
}

/** A backend's answer to writing `size` bytes as they are. */
export function writtenPlain(size: number): Written {
  return { ...PLAIN, storedSize: size };
}

/**
 * A blob that cannot give back its bytes. Restore and scrub report it, invalidate it with every version that
 * shares it, and go on with the other blocks; the command then ends non-zero.
 */
export class BlobUnreadableError extends Error {
  constructor(readonly uid: string, detail: string) {
    super(detail);
    this.name = "BlobUnreadableError";
  }
}

/** The blob does not exist. */
export class BlobNotFoundError extends BlobUnreadableError {
  constructor(uid: string, detail: string) {
    super(uid, detail);
    this.name = "BlobNotFoundError";
  }
}

/** The blob exists but its bytes cannot be decoded (failed authentication or decompression). */
export class BlobCorruptError extends BlobUnreadableError {
  constructor(uid: string, detail: string) {
    super(uid, detail);
    this.name = "BlobCorruptError";
  }
}

/** A blob as a listing shows it. */
export interface StoredBlob {
  uid: string;
  /** When the store last wrote it (a file's mtime, an object's LastModified). */
  modified: Date;
}

export interface BlockStore {
  /** Stores a block's plain bytes; durable only after a later {@link flush} resolves. */
  write(uid: string, data: Uint8Array): Promise<Written>;
  /** Makes every write that has resolved so far durable. */
  flush(): Promise<void>;
  /**
   * The block's plain bytes; throws {@link BlobNotFoundError} when the blob does not exist and another
   * {@link BlobUnreadableError} when it exists but cannot be read (not a regular file, an IO error). With `into`, a
   * backend may return a view of that buffer instead of allocating (restores reuse a fixed set of buffers).
   */
  read(uid: string, encoding: Encoding, into?: ArrayBuffer): Promise<Uint8Array>;
  /** Deletes a blob; false when it did not exist. */
  remove(uid: string): Promise<boolean>;
  /**
   * Deletes blobs (a store may do it in batches); returns the uids that did not exist, as far as the store can
   * tell (S3 cannot: it reports a missing key as deleted).
   */
  removeMany(uids: string[]): Promise<string[]>;
  /**
   * Every blob in the store whose uid starts with `prefix` (when given) and sorts after `startAfter` (when
   * given), in ascending uid order, so that an interrupted listing can resume where it stopped.
   */
  list(prefix?: string, startAfter?: string): AsyncIterable<StoredBlob>;
  /**
   * Deletes what interrupted writes left behind (never referenced by the catalog); returns how many. Only
   * safe while nothing writes to the store: `cleanup --full` holds the global lock exclusively.
   */
  removeUnfinished(prefix?: string): Promise<number>;
  close(): Promise<void>;
}

/** Refuses encodings a raw backend cannot read without the wrapper that wrote them. */
export function assertPlain(uid: string, encoding: Encoding): void {
  if (encoding.encVersion !== 0) {
    throw new Error(`Blob ${uid} has codec ${encoding.encVersion}, which only the codec layer can read.`);
  }
}
