/**
 * The codec registry: the one place that says which codec ids exist, what each does to a block's bytes, and
 * what the rest of the tool needs to know about it (whether it encrypts, whether backy2 2.13.8 can read it).
 *
 * A blob's codec id is kept per blob in the catalog's `enc_version` column (backy2's name, kept so that its
 * catalogs and dumps mean the same), with the encryption materials `enc_envkey` and `enc_nonce`:
 * - 0 plain: the block's bytes as they are;
 * - 1 backy2's encryption version 1: a zstd level-1 frame sealed with AES-256-GCM (see crypto_v1.ts);
 * - 2 zstd: one zstd frame of the block, not encrypted.
 *
 * The encoders and decoders load their code (node:crypto, libzstd) only when a blob of their codec is met.
 */
import type { Encoding } from "./block_store.ts";

export const PLAIN_CODEC = 0;
export const V1_CODEC = 1;
export const ZSTD_CODEC = 2;

/** A blob's bytes as a codec made them, with the materials the catalog keeps beside them. */
export interface Encoded {
  bytes: Uint8Array;
  encoding: Encoding;
}

/** What encoding needs from the configuration. */
export interface EncodeOptions {
  /** zstd compression level (codec 2). */
  level: number;
  /** The 32-byte master key (codec 1; the codec store checks that it is there). */
  key: Uint8Array | null;
  /**
   * Room for a zstd frame of the block (see zstd.ts's compressBound) that the encoded bytes may be made in:
   * they are valid until the next use of it.
   */
  scratch?: Uint8Array;
}

export interface Codec {
  id: number;
  /** For messages. */
  name: string;
  encrypts: boolean;
  /** backy2 2.13.8 can read blobs of this codec (a 2.12 dump may name it). */
  backy2Reads: boolean;
  encode(plain: Uint8Array, options: EncodeOptions): Promise<Encoded>;
  /**
   * The plain bytes of `stored`, written into `into` (never more than it holds). Throws the codec's own
   * errors (see the codec store, which turns them into the store's).
   */
  decode(stored: Uint8Array, encoding: Encoding, key: Uint8Array | null, into: Uint8Array): Promise<Uint8Array>;
}

const PLAIN: Codec = {
  id: PLAIN_CODEC,
  name: "plain",
  encrypts: false,
  backy2Reads: true,
  encode: (plain) => Promise.resolve({ bytes: plain, encoding: encodingOf(PLAIN_CODEC) }),
  decode: (stored) => Promise.resolve(stored),
};

const V1: Codec = {
  id: V1_CODEC,
  name: "encryption version 1",
  encrypts: true,
  backy2Reads: true,
  async encode(plain, { key, scratch }) {
    const { encodeV1 } = await import("./crypto_v1.ts");
    const { blob, envkey, nonce } = await encodeV1(plain, requireKey(key), scratch);
    return { bytes: blob, encoding: { encVersion: V1_CODEC, encEnvkey: envkey, encNonce: nonce } };
  },
  async decode(stored, encoding, key, into) {
    const { decodeV1 } = await import("./crypto_v1.ts");
    return await decodeV1(stored, encoding.encEnvkey, requireKey(key), into);
  },
};

const ZSTD: Codec = {
  id: ZSTD_CODEC,
  name: "zstd",
  encrypts: false,
  backy2Reads: false,
  async encode(plain, { level, scratch }) {
    const { zstd } = await import("./zstd.ts");
    return { bytes: await zstd().compress(plain, level, scratch), encoding: encodingOf(ZSTD_CODEC) };
  },
  async decode(stored, _encoding, _key, into) {
    const { zstd } = await import("./zstd.ts");
    return await zstd().decompress(stored, into);
  },
};

const CODECS: ReadonlyMap<number, Codec> = new Map([PLAIN, V1, ZSTD].map((codec) => [codec.id, codec]));

/** The codec of this id, or undefined for an id this tool does not know. */
export function codecById(id: number): Codec | undefined {
  return CODECS.get(id);
}

/** Every known codec id with its name, for messages: `0 (plain), 1 (encryption version 1), 2 (zstd)`. */
export function knownCodecs(): string {
  return [...CODECS.values()].map((codec) => `${codec.id} (${codec.name})`).join(", ");
}

/** The ids of the codecs that encrypt. */
export function encryptingCodecs(): number[] {
  return [...CODECS.values()].filter((codec) => codec.encrypts).map((codec) => codec.id);
}

/** All codec ids. */
export function allCodecs(): number[] {
  return [...CODECS.keys()];
}

function requireKey(key: Uint8Array | null): Uint8Array {
  if (key === null) throw new Error("encryption version 1 needs a key");
  return key;
}

function encodingOf(id: number): Encoding {
  return { encVersion: id, encEnvkey: null, encNonce: null };
}

/** The codec new blobs get: encryption version 1 (which compresses too), else zstd or plain. */
export function codecFor(encryptionVersion: number, compression: "zstd" | "none"): number {
  if (encryptionVersion === 1) return V1_CODEC;
  return compression === "zstd" ? ZSTD_CODEC : PLAIN_CODEC;
}

/**
 * The codecs of existing blobs that a backup writing `codec` may deduplicate onto, its own first: any blob
 * with the same plain content, except that an encrypting store never points at an unencrypted blob, and a
 * store without a key never at an encrypted one (which it could not read back).
 */
export function dedupCodecs(codec: number, haveKey: boolean): number[] {
  const others = allCodecs().filter((id) => id !== codec);
  const own = codecById(codec)!;
  const usable = others.filter((id) => {
    const other = codecById(id)!;
    return own.encrypts ? other.encrypts : haveKey || !other.encrypts;
  });
  return [codec, ...usable];
}
