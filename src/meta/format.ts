/**
 * The binary form of a version's metadata object: everything the catalog knows about one version (its fields,
 * tags and flags, the blob behind every block with the blob's checksum, sizes, codec and materials), so that
 * the version can be restored and the catalog rebuilt from the block store alone.
 *
 * Layout (little-endian): `BKY2VERS` · u16 format version · u16 0 · the version's fields · the distinct blobs
 * · the block dates that differ from the version's · the block map as pages · SHA-256 of everything before
 * it. The block map holds, per block, 1 + the index of its blob (0: never recorded), cut into pages of
 * {@link PAGE_ENTRIES} entries that are stored once per distinct content, as the catalog stores them
 * (block_pages.ts): a 1 TiB version of 4 MiB blocks has 256 pages of 4 KiB, and an unchanged or sparse region
 * costs one shared page. Checksums and encryption materials in lowercase hex are kept as bytes.
 *
 * Encoding is deterministic: the same version gives the same bytes, which is how `check-store` tells a stale
 * object from a current one.
 */
import { Buffer } from "node:buffer";
import { createHash } from "node:crypto";
import type { Version } from "../catalog/catalog.ts";
import { PAGE_ENTRIES, toPages, unpackIds } from "../catalog/block_pages.ts";

export const META_FORMAT_VERSION = 1;
const MAGIC = new TextEncoder().encode("BKY2VERS");
const DIGEST_BYTES = 32;
const NULL_U32 = 0xffffffff;

/** A version as its metadata object records it (a version in progress never has one). */
export type MetaVersion = Omit<Version, "inProgress">;

/** One distinct blob reference of the version; a sparse one has no uid. */
export interface MetaBlob {
  uid: string | null;
  checksum: string | null;
  size: number;
  valid: boolean;
  encVersion: number;
  encEnvkey: string | null;
  encNonce: string | null;
  storedSize: number | null;
}

export interface VersionMeta {
  version: MetaVersion;
  /** Distinct references, in the order the blocks first use them. */
  blobs: MetaBlob[];
  /** Per block: 1 + the index of its blob in {@link blobs}; 0 for a block never recorded. */
  map: Uint32Array;
  /** Blocks recorded at another date than the version's (imported versions), by ascending block id. */
  blockDates: [number, string][];
}

/** Bytes that are not a metadata object this tool can read; the message says why. */
export class MetaFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "MetaFormatError";
  }
}

export async function encodeMeta(meta: VersionMeta): Promise<Uint8Array> {
  const out = new Writer();
  out.bytes(MAGIC);
  out.u16(META_FORMAT_VERSION);
  out.u16(0);
  writeVersion(out, meta.version);
  out.u32(meta.blobs.length);
  for (const blob of meta.blobs) writeBlob(out, blob);
  out.u32(meta.blockDates.length);
  for (const [id, date] of meta.blockDates) out.u32(id), out.text(date);
  await writeMap(out, meta.map);
  const body = out.finish();
  const result = new Uint8Array(body.length + DIGEST_BYTES);
  result.set(body);
  result.set(createHash("sha256").update(body).digest(), body.length);
  return result;
}

/** Decodes and checks an object; throws {@link MetaFormatError} for anything that is not a whole, valid one. */
export function decodeMeta(bytes: Uint8Array): VersionMeta {
  if (bytes.length < MAGIC.length + 4 || !MAGIC.every((byte, i) => bytes[i] === byte)) {
    throw new MetaFormatError("it is not a version's metadata (no BKY2VERS header)");
  }
  const format = new DataView(bytes.buffer, bytes.byteOffset).getUint16(MAGIC.length, true);
  if (format !== META_FORMAT_VERSION) {
    throw new MetaFormatError(
      `it has format version ${format}, which this backy2 does not know (it reads ${META_FORMAT_VERSION})`,
    );
  }
  if (bytes.length < MAGIC.length + 4 + DIGEST_BYTES) throw new MetaFormatError("integrity check failed (truncated)");
  const body = bytes.subarray(0, bytes.length - DIGEST_BYTES);
  const digest = createHash("sha256").update(body).digest();
  if (!digest.equals(bytes.subarray(body.length))) {
    throw new MetaFormatError("integrity check failed (its SHA-256 does not match its content)");
  }
  const input = new Reader(body, MAGIC.length + 4);
  const version = readVersion(input);
  const blobs = Array.from({ length: input.count(12) }, () => readBlob(input));
  const blockDates: [number, string][] = Array.from({ length: input.count(5) }, () => [input.u32(), input.text()]);
  const map = readMap(input, version.size, blobs.length);
  if (!input.atEnd) throw new MetaFormatError("it has bytes after its block map");
  for (const [id] of blockDates) {
    if (id >= version.size) throw new MetaFormatError(`it dates block ${id}, beyond its ${version.size} blocks`);
  }
  return { version, blobs, map, blockDates };
}

function writeVersion(out: Writer, version: MetaVersion): void {
  out.text(version.uid);
  out.text(version.date);
  out.nullableText(version.expire);
  out.text(version.name);
  out.text(version.snapshotName);
  out.u32(version.size);
  out.u64(version.sizeBytes);
  out.u8(version.valid ? 1 : 0);
  out.u8(version.protected ? 1 : 0);
  out.u32(version.blockSize ?? NULL_U32);
  out.nullableText(version.hashFunction);
  out.u32(version.tags.length);
  for (const tag of version.tags) out.text(tag);
}

function readVersion(input: Reader): MetaVersion {
  return {
    uid: input.text(),
    date: input.text(),
    expire: input.nullableText(),
    name: input.text(),
    snapshotName: input.text(),
    size: input.u32(),
    sizeBytes: input.u64(),
    valid: input.flag(),
    protected: input.flag(),
    blockSize: input.nullableU32(),
    hashFunction: input.nullableText(),
    tags: Array.from({ length: input.count(4) }, () => input.text()),
  };
}

function writeBlob(out: Writer, blob: MetaBlob): void {
  out.nullableText(blob.uid);
  out.hexOrText(blob.checksum);
  out.u32(blob.size);
  out.u8(blob.valid ? 1 : 0);
  out.u8(blob.encVersion);
  out.hexOrText(blob.encEnvkey);
  out.hexOrText(blob.encNonce);
  out.u32(blob.storedSize ?? NULL_U32);
}

function readBlob(input: Reader): MetaBlob {
  return {
    uid: input.nullableText(),
    checksum: input.hexOrText(),
    size: input.u32(),
    valid: input.flag(),
    encVersion: input.u8(),
    encEnvkey: input.hexOrText(),
    encNonce: input.hexOrText(),
    storedSize: input.nullableU32(),
  };
}

/** The map as its distinct pages, then the page index of each page in order. */
async function writeMap(out: Writer, map: Uint32Array): Promise<void> {
  const pages = await toPages(map);
  const index = new Map<string, number>();
  const distinct: Uint8Array[] = [];
  const order = pages.map((page) => {
    const key = Buffer.from(page.hash).toString("hex");
    let at = index.get(key);
    if (at === undefined) index.set(key, at = distinct.push(page.bytes) - 1);
    return at;
  });
  out.u32(PAGE_ENTRIES);
  out.u32(distinct.length);
  for (const bytes of distinct) out.u32(bytes.length / 4), out.bytes(bytes);
  out.u32(order.length);
  for (const at of order) out.u32(at);
}

function readMap(input: Reader, size: number, blobs: number): Uint32Array {
  const entries = input.u32();
  if (entries !== PAGE_ENTRIES) throw new MetaFormatError(`it has pages of ${entries} entries`);
  const distinct = Array.from({ length: input.count(4) }, () => {
    const ids = unpackIds(input.bytes(input.count(4) * 4));
    if (ids.some((id) => id > blobs)) throw new MetaFormatError("its block map names a blob it does not list");
    return ids;
  });
  const map = new Uint32Array(size);
  let offset = 0;
  for (let i = input.count(4); i > 0; i--) {
    const page = distinct[input.u32()];
    if (!page || offset + page.length > size || (page.length !== entries && offset + page.length !== size)) {
      throw new MetaFormatError("its block map does not fit its size");
    }
    map.set(page, offset);
    offset += page.length;
  }
  if (offset !== size) throw new MetaFormatError(`its block map has ${offset} of ${size} blocks`);
  return map;
}

const decoder = new TextDecoder("utf-8", { fatal: true });
const encoder = new TextEncoder();
/** The value of a lowercase hex digit by its char code; 255 for any other character below 128. */
const HEX_VALUE = Uint8Array.from(
  { length: 128 },
  (_, code) => "0123456789abcdef".indexOf(String.fromCharCode(code)) & 255,
);
const [NULL, TEXT, HEX_BYTES] = [0, 1, 2];

/** Appends little-endian fields to a growing buffer. */
class Writer {
  private buffer = new Uint8Array(1 << 16);
  private view = new DataView(this.buffer.buffer, this.buffer.byteOffset, this.buffer.byteLength);
  private length = 0;

  /** Reserves `bytes` and returns where they start (call it before reading {@link view}: it may replace it). */
  private room(bytes: number): number {
    if (this.length + bytes > this.buffer.length) {
      const grown = new Uint8Array(Math.max(this.buffer.length * 2, this.length + bytes));
      grown.set(this.buffer.subarray(0, this.length));
      this.buffer = grown;
      this.view = new DataView(grown.buffer, grown.byteOffset, grown.byteLength);
    }
    const at = this.length;
    this.length += bytes;
    return at;
  }

  u8(value: number): void {
    const at = this.room(1);
    this.view.setUint8(at, value);
  }
  u16(value: number): void {
    const at = this.room(2);
    this.view.setUint16(at, value, true);
  }
  u32(value: number): void {
    const at = this.room(4);
    this.view.setUint32(at, value, true);
  }
  u64(value: number): void {
    const at = this.room(8);
    this.view.setBigUint64(at, BigInt(value), true);
  }
  bytes(bytes: Uint8Array): void {
    const at = this.room(bytes.length);
    this.buffer.set(bytes, at);
  }
  text(value: string): void {
    const most = value.length * 3;
    const at = this.room(4 + most);
    let written = 0;
    // ASCII (uids, dates, most names) is copied here: encodeInto costs a microsecond a call.
    for (let code: number; written < value.length && (code = value.charCodeAt(written)) < 128; written++) {
      this.buffer[at + 4 + written] = code;
    }
    if (written < value.length) {
      written = encoder.encodeInto(value, this.buffer.subarray(at + 4, at + 4 + most)).written;
    }
    this.view.setUint32(at, written, true);
    this.length = at + 4 + written;
  }
  nullableText(value: string | null): void {
    if (value === null) this.u32(NULL_U32);
    else this.text(value);
  }
  /** A nullable string, as bytes when it is lowercase hex (checksums, envkeys, nonces). */
  hexOrText(value: string | null): void {
    if (value === null) return this.u8(NULL);
    if (value.length % 2 === 0 && this.hex(value)) return;
    this.u8(TEXT);
    this.text(value);
  }

  /** Writes `value` as hex bytes if it is lowercase hex; else writes nothing and answers false. */
  private hex(value: string): boolean {
    const start = this.length;
    const at = this.room(5 + value.length / 2);
    this.view.setUint8(at, HEX_BYTES);
    this.view.setUint32(at + 1, value.length / 2, true);
    for (let i = 0, out = at + 5; i < value.length; i += 2, out++) {
      const high = HEX_VALUE[value.charCodeAt(i)] ?? 255;
      const low = HEX_VALUE[value.charCodeAt(i + 1)] ?? 255;
      if ((high | low) > 15) {
        this.length = start;
        return false;
      }
      this.buffer[out] = (high << 4) | low;
    }
    return true;
  }

  finish(): Uint8Array {
    return this.buffer.subarray(0, this.length);
  }
}

/** Reads little-endian fields; running past the end is a {@link MetaFormatError}. */
class Reader {
  private readonly view: DataView;
  private readonly buffer: Buffer;

  constructor(bytes: Uint8Array, private at: number) {
    this.buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  get atEnd(): boolean {
    return this.at === this.buffer.length;
  }

  private take(bytes: number): number {
    if (this.at + bytes > this.buffer.length) throw new MetaFormatError("it ends in the middle of a field");
    const at = this.at;
    this.at += bytes;
    return at;
  }

  u8(): number {
    return this.view.getUint8(this.take(1));
  }
  u32(): number {
    return this.view.getUint32(this.take(4), true);
  }
  u64(): number {
    const value = this.view.getBigUint64(this.take(8), true);
    if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw new MetaFormatError("it has a size beyond 2^53");
    return Number(value);
  }
  flag(): boolean {
    const value = this.u8();
    if (value > 1) throw new MetaFormatError(`it has a flag of ${value}`);
    return value === 1;
  }
  nullableU32(): number | null {
    const value = this.u32();
    return value === NULL_U32 ? null : value;
  }
  /** A count of items of at least `itemBytes` each: never more than the bytes left could hold. */
  count(itemBytes: number): number {
    const count = this.u32();
    if (count * itemBytes > this.buffer.length - this.at) throw new MetaFormatError("it ends in the middle of a list");
    return count;
  }
  bytes(length: number): Uint8Array {
    const at = this.take(length);
    return this.buffer.subarray(at, at + length);
  }
  text(): string {
    const bytes = this.bytes(this.u32());
    try {
      return decoder.decode(bytes);
    } catch {
      throw new MetaFormatError("it has text that is not UTF-8");
    }
  }
  nullableText(): string | null {
    const length = this.u32();
    if (length === NULL_U32) return null;
    this.at -= 4;
    return this.text();
  }
  hexOrText(): string | null {
    const kind = this.u8();
    if (kind === NULL) return null;
    if (kind === TEXT) return this.text();
    if (kind !== HEX_BYTES) throw new MetaFormatError(`it has a field of kind ${kind}`);
    const length = this.u32();
    const at = this.take(length);
    return this.buffer.toString("hex", at, at + length);
  }
}
