/**
 * The codec layer: a {@link BlockStore} around the raw backend that writes new blobs in the configured codec
 * and reads every blob in the codec its catalog row names (see codecs.ts), so plain, encrypted and compressed
 * blobs live side by side in one store and one version.
 *
 * New blobs get the configured codec, except that a block zstd does not shrink is stored plain: random data
 * costs nothing extra. Decoding goes into the caller's buffer and never produces more than it holds (or, for a
 * read without one, more than a block), so a damaged frame cannot claim unbounded memory. At most one block
 * per CPU is encoded or decoded at a time (more would not be faster, only hold more memory), and each encodes
 * into a buffer kept for the next write, so compressing a block leaves no block-sized garbage behind.
 *
 * Metadata objects are always encoded: with encryption version 1 when the configured codec encrypts, else with
 * zstd; their codec and materials travel in the object's envelope (meta_envelope.ts), since no catalog keeps
 * them. Errors name an object as `{kind}/{name}`.
 *
 * Errors: a blob that exists but does not decode (failed authentication, a damaged frame) is a
 * {@link BlobCorruptError}, which restore and scrub treat like a missing blob (report, invalidate, go on).
 * A codec id this tool does not know, a missing key or a key that does not unwrap a blob's data key
 * ({@link WrongKeyError}) are configuration problems: a {@link BackyError} that stops the command and
 * invalidates nothing.
 */
import { BlobCorruptError, type BlockStore, type Encoding, type MetaKind, PLAIN, type Written } from "./block_store.ts";
import { type Codec, codecById, type Encoded, knownCodecs, PLAIN_CODEC, V1_CODEC, ZSTD_CODEC } from "./codecs.ts";
import { MetaDamagedError, packEnvelope, unpackEnvelope } from "./meta_envelope.ts";
import { compressBound } from "./zstd.ts";
import { looksCompressible } from "./compressibility.ts";
import { StoreWrapper } from "./store_wrapper.ts";
import { BackyError } from "../util/errors.ts";
import { Slots } from "../util/slots.ts";

export const MISSING_KEY_TEXT = "You must provide a 32-byte long encryption-key in your configuration.";

/** The configured key does not open a blob's data key: a configuration problem, not a damaged blob. */
export class WrongKeyError extends BackyError {
  constructor(message: string) {
    super(message);
    this.name = "WrongKeyError";
  }
}

export interface CodecSettings {
  /** The codec id new blobs get. */
  codec: number;
  /** zstd compression level of codec 2. */
  level: number;
  /** The 32-byte master key, or null when none is configured. */
  key: Uint8Array | null;
  /** The most bytes a read without a buffer of the caller's may decode to (the block size). */
  maxBlobSize: number;
}

export class CodecStore extends StoreWrapper {
  private readonly codec: Codec;
  private readonly work = new Slots(Math.max(1, navigator.hardwareConcurrency ?? 1));
  /** Encoding buffers not in use. */
  private readonly scratches: Uint8Array[] = [];

  constructor(inner: BlockStore, private readonly settings: CodecSettings) {
    super(inner);
    this.codec = knownCodec("the configuration", settings.codec);
  }

  override async write(uid: string, data: Uint8Array): Promise<Written> {
    const { codec } = this;
    if (codec.encrypts) this.requireKey();
    if (codec.id === PLAIN_CODEC) return await this.writeAs(uid, { bytes: data, encoding: PLAIN });
    if (!codec.encrypts && !await this.work.run(() => looksCompressible(data))) {
      return await this.writeAs(uid, { bytes: data, encoding: PLAIN });
    }
    const { encoded, scratch } = await this.encode(codec, data);
    try {
      const shrunk = codec.encrypts || encoded.bytes.length < data.length;
      return await this.writeAs(uid, shrunk ? encoded : { bytes: data, encoding: PLAIN });
    } finally {
      this.scratches.push(scratch);
    }
  }

  /**
   * Encodes `data` in a CPU slot, into a buffer that stays taken until the caller gives it back after the write;
   * the slot is free again before the write, so that slow writes (S3) do not hold up the encoding of other blocks.
   */
  private encode(codec: Codec, data: Uint8Array): Promise<{ encoded: Encoded; scratch: Uint8Array }> {
    return this.work.run(async () => {
      const scratch = this.takeScratch(data.length);
      try {
        const options = { level: this.settings.level, key: this.settings.key, scratch };
        return { encoded: await codec.encode(data, options), scratch };
      } catch (error) {
        this.scratches.push(scratch);
        throw error;
      }
    });
  }

  private async writeAs(uid: string, encoded: Encoded): Promise<Written> {
    await this.inner.write(uid, encoded.bytes);
    return { ...encoded.encoding, storedSize: encoded.bytes.length };
  }

  /** A free encoding buffer with room for a frame of `size` bytes. */
  private takeScratch(size: number): Uint8Array {
    const scratch = this.scratches.pop();
    const room = compressBound(size);
    return scratch && scratch.length >= room ? scratch : new Uint8Array(room);
  }

  override async read(uid: string, encoding: Encoding, into?: ArrayBuffer): Promise<Uint8Array> {
    const codec = knownCodec(`Blob ${uid}`, encoding.encVersion);
    if (codec.id === PLAIN_CODEC) return await this.inner.read(uid, PLAIN, into);
    const key = codec.encrypts ? this.requireKey() : null;
    const stored = await this.inner.read(uid, PLAIN);
    const target = new Uint8Array(into ?? new ArrayBuffer(this.settings.maxBlobSize));
    try {
      return await this.work.run(() => codec.decode(stored, encoding, key, target));
    } catch (error) {
      throw await decodeFailure(uid, error);
    }
  }

  override async writeMeta(kind: MetaKind, name: string, data: Uint8Array): Promise<void> {
    const codec = knownCodec("the configuration", this.codec.encrypts ? V1_CODEC : ZSTD_CODEC);
    if (codec.encrypts) this.requireKey();
    const options = { level: this.settings.level, key: this.settings.key };
    const { bytes, encoding } = await this.work.run(() => codec.encode(data, options));
    await this.inner.writeMeta(kind, name, packEnvelope({ encoding, plainLength: data.length, payload: bytes }));
  }

  override async readMeta(kind: MetaKind, object: string): Promise<Uint8Array> {
    const name = `${kind}/${object}`;
    const { encoding, plainLength, payload } = unpackEnvelope(name, await this.inner.readMeta(kind, object));
    const codec = knownCodec(`Metadata object ${name}`, encoding.encVersion);
    if (codec.encrypts && this.settings.key === null) {
      throw new BackyError(`Metadata object ${name} is encrypted; ${MISSING_KEY_TEXT}`);
    }
    let plain: Uint8Array;
    try {
      plain = await this.work.run(() =>
        codec.decode(payload, encoding, this.settings.key, new Uint8Array(plainLength))
      );
    } catch (error) {
      throw await metaDecodeFailure(name, error);
    }
    if (plain.length !== plainLength) {
      throw new MetaDamagedError(name, `Metadata object ${name} is damaged: ${plain.length} of ${plainLength} bytes.`);
    }
    return plain;
  }

  private requireKey(): Uint8Array {
    if (this.settings.key === null) throw new BackyError(MISSING_KEY_TEXT);
    return this.settings.key;
  }
}

/** The codec of `id`; a BackyError naming `what` has it when this tool does not know that id. */
function knownCodec(what: string, id: number): Codec {
  const codec = codecById(id);
  if (codec) return codec;
  throw new BackyError(
    `${what} has codec ${id} (enc_version), which this backy2 does not know (it knows ${knownCodecs()}).`,
  );
}

/** What a codec's failure means: a damaged blob, or (a key that does not fit) a configuration problem. */
async function decodeFailure(uid: string, error: unknown): Promise<Error> {
  const { ZstdError } = await import("./zstd.ts");
  if (error instanceof ZstdError) {
    return new BlobCorruptError(uid, `Blob ${uid} is damaged: it does not decompress (${error.message}).`);
  }
  const { BlobDecodeError, KeyUnwrapError } = await import("./crypto_v1.ts");
  if (error instanceof KeyUnwrapError) {
    return new WrongKeyError(
      `Cannot decrypt blob ${uid}: ${error.message}. Is encryption_key the key this blob was written with?`,
    );
  }
  if (error instanceof BlobDecodeError) return new BlobCorruptError(uid, `Blob ${uid} is damaged: ${error.message}.`);
  return error as Error;
}

/** What a codec's failure on a metadata object means: a damaged object, or a key that does not fit. */
async function metaDecodeFailure(name: string, error: unknown): Promise<Error> {
  const { ZstdError } = await import("./zstd.ts");
  const { BlobDecodeError, KeyUnwrapError } = await import("./crypto_v1.ts");
  if (error instanceof KeyUnwrapError) {
    return new WrongKeyError(
      `Cannot decrypt metadata object ${name}: ${error.message}. Is encryption_key the key it was written with?`,
    );
  }
  if (error instanceof ZstdError || error instanceof BlobDecodeError) {
    return new MetaDamagedError(name, `Metadata object ${name} is damaged: ${error.message}.`);
  }
  return error as Error;
}
