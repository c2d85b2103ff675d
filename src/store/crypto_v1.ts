/**
 * backy2's encryption version 1, as pure functions.
 *
 * A block is compressed with zstd level 1 (one frame that records the content size), then encrypted with
 * AES-256-GCM under a fresh random 32-byte data key and a random 16-byte nonce (no AAD, 16-byte tag). The blob
 * is `tag(16) ‖ nonce(16) ‖ ciphertext`. The data key is wrapped with the master key by AES Key Wrap
 * (RFC 3394, default IV `A6A6A6A6A6A6A6A6`); the catalog keeps the 40-byte result as 80 hex characters
 * (enc_envkey) and the nonce as 32 (enc_nonce).
 *
 * Two error classes tell the callers what went wrong: {@link KeyUnwrapError} when the master key does not
 * unwrap the envkey (the wrong key is configured, or the catalog row is damaged), {@link BlobDecodeError}
 * when the blob itself fails authentication or decompression (a damaged blob). Neither ever yields bytes.
 */
import { Buffer } from "node:buffer";
import { createCipheriv, createDecipheriv } from "node:crypto";
import { frameContentSize, zstd, ZstdError } from "./zstd.ts";

/** RFC 3394 §2.2.3.1 default initial value. */
const KEY_WRAP_IV = Buffer.from("a6a6a6a6a6a6a6a6", "hex");
const KEY_WRAP_CIPHER = "aes256-wrap";
const TAG_BYTES = 16;
const NONCE_BYTES = 16;
const DATA_KEY_BYTES = 32;
const MASTER_KEY_BYTES = 32;
/** A wrapped 32-byte data key: 8 bytes integrity value + 32 bytes. */
const ENVKEY_BYTES = 40;

/** The master key does not unwrap an envkey. */
export class KeyUnwrapError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "KeyUnwrapError";
  }
}

/** A version-1 blob that fails authentication or decompression. */
export class BlobDecodeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "BlobDecodeError";
  }
}

export interface EncodedV1 {
  blob: Uint8Array;
  /** Wrapped data key, 80 lowercase hex characters. */
  envkey: string;
  /** GCM nonce, 32 lowercase hex characters (also bytes 16..32 of the blob). */
  nonce: string;
}

function checkMasterKey(masterKey: Uint8Array): void {
  if (masterKey.length !== MASTER_KEY_BYTES) {
    throw new Error(`The encryption key must be ${MASTER_KEY_BYTES} bytes long, not ${masterKey.length}.`);
  }
}

/** AES Key Wrap (RFC 3394) of `key` (a multiple of 8 bytes, at least 16) under the 32-byte `kek`. */
export function wrapKey(kek: Uint8Array, key: Uint8Array): Uint8Array {
  checkMasterKey(kek);
  const cipher = createCipheriv(KEY_WRAP_CIPHER, kek, KEY_WRAP_IV);
  return new Uint8Array(Buffer.concat([cipher.update(key), cipher.final()]));
}

/** Inverse of {@link wrapKey}; throws {@link KeyUnwrapError} when the integrity check fails. */
export function unwrapKey(kek: Uint8Array, wrapped: Uint8Array): Uint8Array<ArrayBuffer> {
  checkMasterKey(kek);
  if (wrapped.length < 24 || wrapped.length % 8 !== 0) {
    throw new KeyUnwrapError(`Wrapped key has an invalid length of ${wrapped.length} bytes.`);
  }
  try {
    const decipher = createDecipheriv(KEY_WRAP_CIPHER, kek, KEY_WRAP_IV);
    return new Uint8Array(Buffer.concat([decipher.update(wrapped), decipher.final()]));
  } catch {
    const value = integrityValue(kek, wrapped);
    throw new KeyUnwrapError(`Integrity Check Failed: 0x${value.toString(16)} (expected 0xa6a6a6a6a6a6a6a6)`);
  }
}

/**
 * The integrity value A that unwrapping `wrapped` under `kek` yields (RFC 3394 §2.2.2, index-based), which
 * equals the default IV exactly when the key is right. Only used to word the error as the reference does.
 */
export function integrityValue(kek: Uint8Array, wrapped: Uint8Array): bigint {
  const n = wrapped.length / 8 - 1;
  const a = Buffer.from(wrapped.subarray(0, 8));
  const r: Buffer[] = Array.from({ length: n }, (_, i) => Buffer.from(wrapped.subarray(8 * (i + 1), 8 * (i + 2))));
  const aes = createDecipheriv("aes-256-ecb", kek, null).setAutoPadding(false);
  for (let j = 5; j >= 0; j--) {
    for (let i = n; i >= 1; i--) {
      a.writeBigUInt64BE(a.readBigUInt64BE(0) ^ BigInt(n * j + i));
      const b = aes.update(Buffer.concat([a, r[i - 1]]));
      b.copy(a, 0, 0, 8);
      r[i - 1] = b.subarray(8, 16);
    }
  }
  return a.readBigUInt64BE(0);
}

/** Parses hex text of an exact byte length; null when it is not that. */
export function fromHex(text: string | null, bytes: number): Uint8Array | null {
  if (text === null || text.length !== bytes * 2 || !/^[0-9a-fA-F]*$/.test(text)) return null;
  return new Uint8Array(Buffer.from(text, "hex"));
}

export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("hex");
}

/** backy2 compresses version-1 blocks at zstd level 1, in one frame that records the content size. */
const V1_LEVEL = 1;

/**
 * Payloads from this size on are sealed and opened by WebCrypto, below it by node:crypto. Both give the same
 * bytes; in Deno, WebCrypto's AES-GCM is 3–4 times faster on large payloads and runs off the main thread, while
 * node:crypto's synchronous call costs less for small blocks.
 */
const WEBCRYPTO_FROM_BYTES = 16384;

/** AES-256-GCM encryption with a 16-byte nonce; returns the ciphertext and the 16-byte tag. */
async function seal(key: Uint8Array<ArrayBuffer>, nonce: Uint8Array<ArrayBuffer>, data: Uint8Array<ArrayBuffer>) {
  if (data.length < WEBCRYPTO_FROM_BYTES) {
    const cipher = createCipheriv("aes-256-gcm", key, nonce, { authTagLength: TAG_BYTES });
    const ciphertext = Buffer.concat([cipher.update(data), cipher.final()]);
    return { ciphertext, tag: cipher.getAuthTag() };
  }
  const sealed = new Uint8Array(await crypto.subtle.encrypt({ name: "AES-GCM", iv: nonce }, await gcmKey(key), data));
  return { ciphertext: sealed.subarray(0, sealed.length - TAG_BYTES), tag: sealed.subarray(sealed.length - TAG_BYTES) };
}

/** AES-256-GCM decryption; throws {@link BlobDecodeError} when the tag does not verify. */
async function unseal(key: Uint8Array<ArrayBuffer>, blob: Uint8Array): Promise<Uint8Array> {
  const nonce = blob.slice(TAG_BYTES, TAG_BYTES + NONCE_BYTES);
  const ciphertext = blob.subarray(TAG_BYTES + NONCE_BYTES);
  try {
    if (ciphertext.length < WEBCRYPTO_FROM_BYTES) {
      const decipher = createDecipheriv("aes-256-gcm", key, nonce, { authTagLength: TAG_BYTES });
      decipher.setAuthTag(blob.subarray(0, TAG_BYTES));
      return Buffer.concat([decipher.update(ciphertext), decipher.final()]);
    }
    const sealed = new Uint8Array(ciphertext.length + TAG_BYTES);
    sealed.set(ciphertext);
    sealed.set(blob.subarray(0, TAG_BYTES), ciphertext.length);
    return new Uint8Array(await crypto.subtle.decrypt({ name: "AES-GCM", iv: nonce }, await gcmKey(key), sealed));
  } catch {
    throw new BlobDecodeError("it fails GCM authentication");
  }
}

function gcmKey(key: Uint8Array<ArrayBuffer>): Promise<CryptoKey> {
  return crypto.subtle.importKey("raw", key, "AES-GCM", false, ["encrypt", "decrypt"]);
}

/** The bytes as a view of a plain ArrayBuffer (what WebCrypto takes); copied only if they are not. */
function arrayBacked(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  return bytes.buffer instanceof ArrayBuffer ? bytes as Uint8Array<ArrayBuffer> : new Uint8Array(bytes);
}

function randomArray(bytes: number): Uint8Array<ArrayBuffer> {
  return crypto.getRandomValues(new Uint8Array(bytes));
}

/**
 * Encodes one block's plain bytes as a version-1 blob under `masterKey`; `scratch` (room for a zstd frame of
 * the block), when given, holds the compressed bytes on their way to the cipher.
 */
export async function encodeV1(plain: Uint8Array, masterKey: Uint8Array, scratch?: Uint8Array): Promise<EncodedV1> {
  checkMasterKey(masterKey);
  const dataKey = randomArray(DATA_KEY_BYTES);
  const nonce = randomArray(NONCE_BYTES);
  const compressed = await zstd().compress(plain, V1_LEVEL, scratch);
  const { ciphertext, tag } = await seal(dataKey, nonce, arrayBacked(compressed));
  const blob = new Uint8Array(TAG_BYTES + NONCE_BYTES + ciphertext.length);
  blob.set(tag, 0);
  blob.set(nonce, TAG_BYTES);
  blob.set(ciphertext, TAG_BYTES + NONCE_BYTES);
  return { blob, envkey: toHex(wrapKey(masterKey, dataKey)), nonce: toHex(nonce) };
}

/** The data key of an envkey; throws {@link KeyUnwrapError} for a wrong master key or a malformed envkey. */
export function unwrapEnvkey(envkeyHex: string | null, masterKey: Uint8Array): Uint8Array<ArrayBuffer> {
  const wrapped = fromHex(envkeyHex, ENVKEY_BYTES);
  if (!wrapped) throw new KeyUnwrapError(`Malformed enc_envkey ${JSON.stringify(envkeyHex)} (need 80 hex digits).`);
  return unwrapKey(masterKey, wrapped);
}

/**
 * Decodes a version-1 blob to the block's plain bytes, verifying the GCM tag. The bytes land in `into` (a
 * frame that decodes to more than it holds is a {@link BlobDecodeError}); without it, in a new array of the
 * size the frame declares.
 */
export async function decodeV1(
  blob: Uint8Array,
  envkeyHex: string | null,
  masterKey: Uint8Array,
  into?: Uint8Array,
): Promise<Uint8Array> {
  const dataKey = unwrapEnvkey(envkeyHex, masterKey);
  if (blob.length < TAG_BYTES + NONCE_BYTES) {
    throw new BlobDecodeError(`too short for encryption version 1 (${blob.length} bytes)`);
  }
  const compressed = await unseal(dataKey, blob);
  try {
    return await zstd().decompress(compressed, into ?? new Uint8Array(declaredSize(compressed)));
  } catch (error) {
    if (!(error instanceof ZstdError)) throw error;
    throw new BlobDecodeError(`it does not decompress (${error.message})`);
  }
}

/** The content size of a frame that must declare one (as every version-1 frame does). */
function declaredSize(frame: Uint8Array): number {
  const size = frameContentSize(frame);
  if (size === null || size > MAX_DECLARED_BYTES) {
    throw new BlobDecodeError("its zstd frame does not declare a usable content size");
  }
  return size;
}

/** Without a caller's buffer, no frame may claim more than this. */
const MAX_DECLARED_BYTES = 1 << 30;

/** Wraps the data key of `envkeyHex` (wrapped under `oldKey`) under `newKey` instead. */
export function rewrapEnvkey(envkeyHex: string | null, oldKey: Uint8Array, newKey: Uint8Array): string {
  return toHex(wrapKey(newKey, unwrapEnvkey(envkeyHex, oldKey)));
}
