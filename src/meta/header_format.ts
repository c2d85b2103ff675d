/**
 * Version headers: one per version, everything about it but its blobs (which its page objects hold), so that
 * the version can be restored and the catalog rebuilt from the block store alone. A 1 TiB version of 4 MiB
 * blocks has 256 pages: its header is a few KiB.
 *
 * Layout (little-endian): `BKY2VERS` · u16 format version · u16 0 · the version's fields (uid, date, expire,
 * name, snapshot, size in blocks and bytes, valid, protected, block size, hash function, tags) · the invalid
 * blobs it uses (uid, checksum) · the blocks recorded at another date than the version's, as runs (first id,
 * count, date) · u32 {@link PAGE_ENTRIES} · the names of its page objects in block order (32 bytes each) ·
 * SHA-256 of everything before it.
 *
 * Encoding is deterministic: the same version gives the same bytes, which is how `check-store` tells a stale
 * header from a current one.
 */
import type { Version } from "../catalog/catalog.ts";
import { PAGE_ENTRIES } from "../catalog/block_pages.ts";
import { fromHex, MetaFormatError, Reader, sha256, startsWith, toHex, Writer } from "./binary.ts";
import { PAGE_NAME } from "./page_format.ts";

export const HEADER_FORMAT_VERSION = 1;
const MAGIC = new TextEncoder().encode("BKY2VERS");
const DIGEST_BYTES = 32;

/** A version as its header records it (a version in progress never has one). */
export type MetaVersion = Omit<Version, "inProgress">;

/** A blob by the fields invalidation goes by. */
export interface BlobKey {
  uid: string;
  checksum: string | null;
}

export interface VersionHeader {
  version: MetaVersion;
  /** The blobs of this version that are marked invalid, sorted by uid and checksum. */
  invalidBlobs: BlobKey[];
  /** Blocks recorded at another date than the version's (imported versions), by ascending block id. */
  blockDates: [number, string][];
  /** The page objects (hex names) of its blocks, {@link PAGE_ENTRIES} per page, in order. */
  pages: string[];
}

/** How many pages a version of `size` blocks has. */
export function pageCount(size: number): number {
  return Math.ceil(size / PAGE_ENTRIES);
}

export function encodeHeader(header: VersionHeader): Uint8Array {
  const out = new Writer();
  out.bytes(MAGIC);
  out.u16(HEADER_FORMAT_VERSION);
  out.u16(0);
  writeVersion(out, header.version);
  out.u32(header.invalidBlobs.length);
  for (const blob of header.invalidBlobs) out.hexOrText(blob.uid), out.hexOrText(blob.checksum);
  const runs = dateRuns(header.blockDates);
  out.u32(runs.length);
  for (const run of runs) out.u32(run.first), out.u32(run.count), out.text(run.date);
  out.u32(PAGE_ENTRIES);
  out.u32(header.pages.length);
  for (const name of header.pages) out.bytes(fromHex(name));
  const body = out.finish();
  const result = new Uint8Array(body.length + DIGEST_BYTES);
  result.set(body);
  result.set(sha256(body), body.length);
  return result;
}

/** Decodes and checks a header; throws {@link MetaFormatError} for anything that is not a whole, valid one. */
export function decodeHeader(bytes: Uint8Array): VersionHeader {
  if (!startsWith(bytes, MAGIC)) throw new MetaFormatError("it is not a version header (no BKY2VERS header)");
  if (bytes.length < MAGIC.length + 4) throw new MetaFormatError("integrity check failed (truncated)");
  const format = new DataView(bytes.buffer, bytes.byteOffset).getUint16(MAGIC.length, true);
  if (format !== HEADER_FORMAT_VERSION) {
    throw new MetaFormatError(
      `it has format version ${format}, which this backy2 does not know (it reads ${HEADER_FORMAT_VERSION})`,
    );
  }
  if (bytes.length < MAGIC.length + 4 + DIGEST_BYTES) throw new MetaFormatError("integrity check failed (truncated)");
  const body = bytes.subarray(0, bytes.length - DIGEST_BYTES);
  if (toHex(sha256(body)) !== toHex(bytes.subarray(body.length))) {
    throw new MetaFormatError("integrity check failed (its SHA-256 does not match its content)");
  }
  const input = new Reader(body, MAGIC.length + 4);
  const version = readVersion(input);
  const invalidBlobs = Array.from({ length: input.count(2) }, () => {
    const uid = input.hexOrText();
    if (uid === null) throw new MetaFormatError("it lists an invalid blob without a uid");
    return { uid, checksum: input.hexOrText() };
  });
  const blockDates = readDateRuns(input, version.size);
  const entries = input.u32();
  if (entries !== PAGE_ENTRIES) throw new MetaFormatError(`it has pages of ${entries} entries`);
  const pages = Array.from({ length: input.count(DIGEST_BYTES) }, () => toHex(input.bytes(DIGEST_BYTES)));
  if (!input.atEnd) throw new MetaFormatError("it has bytes after its page list");
  if (pages.length !== pageCount(version.size)) {
    throw new MetaFormatError(`it lists ${pages.length} pages for ${version.size} blocks`);
  }
  if (!pages.every((name) => PAGE_NAME.test(name))) throw new MetaFormatError("it names a page wrongly");
  return { version, invalidBlobs, blockDates, pages };
}

function writeVersion(out: Writer, version: MetaVersion): void {
  out.text(version.uid);
  out.text(version.date);
  out.nullableText(version.expire);
  out.text(version.name);
  out.text(version.snapshotName);
  out.u32(version.size);
  out.u64(version.sizeBytes);
  out.flag(version.valid);
  out.flag(version.protected);
  out.nullableU32(version.blockSize);
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

interface DateRun {
  first: number;
  count: number;
  date: string;
}

/** Consecutive blocks of one date as one run (a backy2 version's blocks often share a few dates). */
function dateRuns(dates: [number, string][]): DateRun[] {
  const runs: DateRun[] = [];
  for (const [id, date] of dates) {
    const last = runs.at(-1);
    if (last && last.date === date && last.first + last.count === id) last.count++;
    else runs.push({ first: id, count: 1, date });
  }
  return runs;
}

function readDateRuns(input: Reader, size: number): [number, string][] {
  const dates: [number, string][] = [];
  let next = 0;
  for (let runs = input.count(12); runs > 0; runs--) {
    const [first, count, date] = [input.u32(), input.u32(), input.text()];
    if (first < next || count === 0 || first + count > size) {
      throw new MetaFormatError(`it dates blocks ${first}..${first + count - 1} out of order or beyond its size`);
    }
    for (let id = first; id < first + count; id++) dates.push([id, date]);
    next = first + count;
  }
  return dates;
}
