/**
 * The block store: where blob bytes live, addressed by 32-character blob uid.
 *
 * Backends (file, null; S3 later) implement {@link BlockStore} and keep bytes as given. Features that wrap a
 * backend (encryption, throttling, retries) are BlockStores around another one: an encrypting wrapper
 * returns the {@link Encoding} it used from `write` and needs it back for `read`, which is why the catalog
 * keeps it per blob (backy2's enc_version, enc_envkey, enc_nonce).
 */

export interface Encoding {
  encVersion: number;
  encEnvkey: string | null;
  encNonce: string | null;
}

export const PLAIN: Encoding = { encVersion: 0, encEnvkey: null, encNonce: null };

export class BlobNotFoundError extends Error {
  constructor(readonly uid: string, detail: string) {
    super(detail);
    this.name = "BlobNotFoundError";
  }
}

export interface BlockStore {
  /** Stores a block's plain bytes; durable only after a later {@link flush} resolves. */
  write(uid: string, data: Uint8Array): Promise<Encoding>;
  /** Makes every write that has resolved so far durable. */
  flush(): Promise<void>;
  /**
   * The block's plain bytes; throws {@link BlobNotFoundError} when the blob does not exist. With `into`, a
   * backend may return a view of that buffer instead of allocating (restores reuse a fixed set of buffers).
   */
  read(uid: string, encoding: Encoding, into?: ArrayBuffer): Promise<Uint8Array>;
  /** Deletes a blob; false when it did not exist. */
  remove(uid: string): Promise<boolean>;
  /** Every blob uid in the store (starting with `prefix`, when given). */
  list(prefix?: string): AsyncIterable<string>;
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
    throw new Error(`Blob ${uid} has encryption version ${encoding.encVersion}, which needs an encryption key.`);
  }
}
