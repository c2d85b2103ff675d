/**
 * The block store: where blob bytes live, addressed by 32-character blob uid.
 *
 * Backends (file, S3, memory, null) implement {@link BlockStore} and keep bytes as given; src/store/registry.ts
 * says which configuration type builds which. Features that wrap a backend (the codecs, throttling, retries)
 * are BlockStores around another one: the codec layer returns the {@link Encoding} it used from `write` and
 * needs it back for `read`, which is why the catalog keeps it per blob (backy2's enc_version, enc_envkey,
 * enc_nonce).
 *
 * Beside the blobs, a store keeps named metadata objects (src/meta/) of two kinds, each a namespace of its own
 * that blob listings, cleanup and `removeUnfinished` of blobs never see: one header per version (`versions`,
 * named by the version's uid) and the page objects the headers share (`pages`, named by their content's hash).
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

/** The two kinds of metadata objects, named as the folders (or key prefixes) that hold them. */
export type MetaKind = "versions" | "pages";
export const META_KINDS: readonly MetaKind[] = ["versions", "pages"];

/** The metadata object does not exist. */
export class MetaNotFoundError extends Error {
  constructor(readonly object: string, detail: string) {
    super(detail);
    this.name = "MetaNotFoundError";
  }
}

/** A metadata object name: letters, digits, `-` and `_` (a version uid, a hex hash): a safe file name and key. */
export const META_NAME = /^[0-9A-Za-z_-]{1,128}$/;

/** Refuses a kind or name that is not one (see {@link MetaKind}, {@link META_NAME}). */
export function checkMetaName(kind: MetaKind, name: string): void {
  if (!META_KINDS.includes(kind)) throw new Error(`${JSON.stringify(kind)} is not a kind of metadata object`);
  if (!META_NAME.test(name)) throw new Error(`${JSON.stringify(name)} is not a metadata object name`);
}

/** A metadata object as a listing shows it. */
export interface StoredMeta {
  name: string;
  /** When the store last wrote it. */
  modified: Date;
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
  /**
   * Stores metadata object `name` (see {@link META_NAME}) of `kind`, replacing one of that name; durable once it
   * resolves.
   */
  writeMeta(kind: MetaKind, name: string, data: Uint8Array): Promise<void>;
  /** The bytes of a metadata object; throws {@link MetaNotFoundError} when it does not exist. */
  readMeta(kind: MetaKind, name: string): Promise<Uint8Array>;
  /**
   * The metadata objects of `kind`, sorted by name. Objects whose name is not a {@link META_NAME} are listed
   * too (as they are), so that a caller can report them.
   */
  listMeta(kind: MetaKind): Promise<StoredMeta[]>;
  /** Deletes a metadata object; false when it did not exist. */
  removeMeta(kind: MetaKind, name: string): Promise<boolean>;
  close(): Promise<void>;
}

/** Refuses encodings a raw backend cannot read without the wrapper that wrote them. */
export function assertPlain(uid: string, encoding: Encoding): void {
  if (encoding.encVersion !== 0) {
    throw new Error(`Blob ${uid} has codec ${encoding.encVersion}, which only the codec layer can read.`);
  }
}
