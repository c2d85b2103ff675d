/**
 * Encryption as a {@link BlockStore} around a backend (behavior §16): new blobs are written in the configured
 * encryption version, and every blob is read in the version its catalog row names, so version-1 blobs stay
 * readable under `encryption_version: 0` as long as the key is configured.
 *
 * A key that does not unwrap a blob's data key stops the command with a {@link BackyError} naming the blob:
 * that is a configuration problem, and invalidating good blobs over it would be wrong. A blob that fails
 * authentication is damaged: it is reported as a {@link BlobCorruptError}, which restore and scrub treat like
 * a missing blob (report, invalidate, go on). Garbage is never returned.
 */
import { BlobCorruptError, type BlockStore, type Encoding, PLAIN } from "./block_store.ts";
import type * as CryptoV1 from "./crypto_v1.ts";

/** The crypto code (and node:crypto, node:zlib with it) loads when the first encrypted blob is met. */
let cryptoV1: Promise<typeof CryptoV1> | null = null;
function v1(): Promise<typeof CryptoV1> {
  cryptoV1 ??= import("./crypto_v1.ts");
  return cryptoV1;
}
import { BackyError } from "../util/errors.ts";
import { StoreWrapper } from "./store_wrapper.ts";

export const MISSING_KEY_TEXT = "You must provide a 32-byte long encryption-key in your configuration.";

/** The configured key does not open a blob's data key: a configuration problem, not a damaged blob. */
export class WrongKeyError extends BackyError {
  constructor(message: string) {
    super(message);
    this.name = "WrongKeyError";
  }
}

export class EncryptingStore extends StoreWrapper {
  /**
   * @param version the encryption version new blobs get (0 or 1)
   * @param key the 32-byte master key, or null when none is configured
   */
  constructor(
    inner: BlockStore,
    private readonly version: number,
    private readonly key: Uint8Array | null,
  ) {
    super(inner);
    if (version !== 0 && version !== 1) throw new BackyError(`Unsupported encryption version ${version}.`);
  }

  override async write(uid: string, data: Uint8Array): Promise<Encoding> {
    if (this.version === 0) return await this.inner.write(uid, data);
    const encoded = await (await v1()).encodeV1(data, this.requireKey());
    await this.inner.write(uid, encoded.blob);
    return { encVersion: 1, encEnvkey: encoded.envkey, encNonce: encoded.nonce };
  }

  override async read(uid: string, encoding: Encoding, into?: ArrayBuffer): Promise<Uint8Array> {
    if (encoding.encVersion === 0) return await this.inner.read(uid, encoding, into);
    if (encoding.encVersion !== 1) {
      throw new BackyError(`Blob ${uid} has unknown encryption version ${encoding.encVersion}.`);
    }
    const key = this.requireKey();
    const blob = await this.inner.read(uid, PLAIN);
    return await decode(uid, blob, encoding.encEnvkey, key);
  }

  private requireKey(): Uint8Array {
    if (this.key === null) throw new BackyError(MISSING_KEY_TEXT);
    return this.key;
  }
}

async function decode(uid: string, blob: Uint8Array, envkey: string | null, key: Uint8Array): Promise<Uint8Array> {
  try {
    return await (await v1()).decodeV1(blob, envkey, key);
  } catch (error) {
    const { BlobDecodeError, KeyUnwrapError } = await v1();
    if (error instanceof KeyUnwrapError) {
      throw new WrongKeyError(
        `Cannot decrypt blob ${uid}: ${error.message}. Is encryption_key the key this blob was written with?`,
      );
    }
    if (error instanceof BlobDecodeError) throw new BlobCorruptError(uid, `Blob ${uid} is damaged: ${error.message}.`);
    throw error;
  }
}
