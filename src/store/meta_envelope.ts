/**
 * How the codec layer stores a metadata object: its encoded bytes behind a small header that names the codec
 * and carries the codec's materials (envkey, nonce), since no catalog row keeps them for an object that must
 * be readable when the catalog is lost.
 *
 * Layout (little-endian): `BKY2META` · u8 envelope version (1) · u8 codec id · u16 envkey length · u16 nonce
 * length · u32 plain length · envkey · nonce · the encoded bytes. The codec (encryption version 1, or zstd)
 * authenticates or checks the bytes; the object's own content carries a SHA-256 on top (src/meta/header_format.ts,
 * page_format.ts).
 */
import type { Encoding } from "./block_store.ts";

const MAGIC = new TextEncoder().encode("BKY2META");
const ENVELOPE_VERSION = 1;
const HEADER_BYTES = MAGIC.length + 1 + 1 + 2 + 2 + 4;
/** No metadata object is decoded to more than this (a 1 TiB version's object is a few megabytes). */
export const MAX_META_BYTES = 1 << 30;

/** A metadata object that is not one (`foreign`), or whose bytes do not decode: named, never half read. */
export class MetaDamagedError extends Error {
  constructor(readonly object: string, message: string, readonly foreign = false) {
    super(message);
    this.name = "MetaDamagedError";
  }
}

export interface Envelope {
  encoding: Encoding;
  /** The length of the plain object. */
  plainLength: number;
  /** The codec's bytes. */
  payload: Uint8Array;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

export function packEnvelope({ encoding, plainLength, payload }: Envelope): Uint8Array {
  const envkey = encoder.encode(encoding.encEnvkey ?? "");
  const nonce = encoder.encode(encoding.encNonce ?? "");
  const bytes = new Uint8Array(HEADER_BYTES + envkey.length + nonce.length + payload.length);
  const view = new DataView(bytes.buffer);
  bytes.set(MAGIC, 0);
  let at = MAGIC.length;
  view.setUint8(at++, ENVELOPE_VERSION);
  view.setUint8(at++, encoding.encVersion);
  view.setUint16(at, envkey.length, true);
  view.setUint16(at + 2, nonce.length, true);
  view.setUint32(at + 4, plainLength, true);
  at += 8;
  bytes.set(envkey, at);
  bytes.set(nonce, at + envkey.length);
  bytes.set(payload, at + envkey.length + nonce.length);
  return bytes;
}

/** The envelope of stored object `name`; a {@link MetaDamagedError} when it is not one this tool can read. */
export function unpackEnvelope(name: string, bytes: Uint8Array): Envelope {
  const damaged = (why: string) => new MetaDamagedError(name, `Metadata object ${name} ${why}.`);
  if (bytes.length < HEADER_BYTES || !MAGIC.every((byte, i) => bytes[i] === byte)) {
    throw new MetaDamagedError(name, `Metadata object ${name} is foreign: no BKY2META header.`, true);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = MAGIC.length;
  const version = view.getUint8(at++);
  if (version !== ENVELOPE_VERSION) {
    throw damaged(`has envelope version ${version}, which this backy2 does not know (it knows ${ENVELOPE_VERSION})`);
  }
  const encVersion = view.getUint8(at++);
  const envkeyLength = view.getUint16(at, true);
  const nonceLength = view.getUint16(at + 2, true);
  const plainLength = view.getUint32(at + 4, true);
  at += 8;
  if (at + envkeyLength + nonceLength > bytes.length) throw damaged("is truncated (its header runs past its end)");
  if (plainLength > MAX_META_BYTES) throw damaged(`claims ${plainLength} bytes, more than any metadata object has`);
  const text = (from: number, length: number) => {
    if (length === 0) return null;
    try {
      return decoder.decode(bytes.subarray(from, from + length));
    } catch {
      throw damaged("has a header that is not text where its encryption materials belong");
    }
  };
  return {
    encoding: { encVersion, encEnvkey: text(at, envkeyLength), encNonce: text(at + envkeyLength, nonceLength) },
    plainLength,
    payload: bytes.subarray(at + envkeyLength + nonceLength),
  };
}
