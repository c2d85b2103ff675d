/**
 * Page objects: the blobs behind one block-map page (up to {@link PAGE_ENTRIES} blocks of a version), in a
 * form no catalog is needed to read. Versions share them as the catalog shares its pages: an unchanged
 * region of any number of versions is one page object.
 *
 * Layout (little-endian): `BKY2PAGE` · u16 format version · u16 0 · u32 entry count · the distinct blobs in
 * the order the entries first use them (uid, checksum, size, codec id, envkey, nonce, stored size; a sparse
 * blob has no uid) · per entry a u32: 1 + the index of its blob, 0 for a block never recorded.
 *
 * A page object's name is the hex SHA-256 of these bytes, so equal content is one object whichever catalog
 * wrote it, and reading one checks it against its name. Validity is not part of a page (it changes without
 * the blob changing): a version's header lists the invalid blobs it uses.
 */
import type { BlobRef } from "../catalog/catalog.ts";
import { PAGE_ENTRIES } from "../catalog/block_pages.ts";
import { MetaFormatError, Reader, sha256, startsWith, toHex, Writer } from "./binary.ts";

export const PAGE_FORMAT_VERSION = 1;
const MAGIC = new TextEncoder().encode("BKY2PAGE");
/** The name of a page object: 64 lowercase hex digits. */
export const PAGE_NAME = /^[0-9a-f]{64}$/;

/** A blob as a page object describes it. */
export type PageBlob = Omit<BlobRef, "id" | "valid">;

export interface PageContent {
  /** Distinct blobs, in the order the entries first use them. */
  blobs: PageBlob[];
  /** Per block: 1 + the index of its blob in {@link blobs}; 0 for a block never recorded. */
  entries: Uint32Array;
}

export interface EncodedPage {
  /** Hex SHA-256 of {@link bytes}. */
  name: string;
  bytes: Uint8Array;
}

/** A blob's fields as a page keeps them; a plain blob's unknown stored size is its size, as the catalog says. */
export function pageBlob(ref: Omit<BlobRef, "id" | "valid" | "storedSize"> & { storedSize?: number | null }): PageBlob {
  const plainSize = ref.uid !== null && ref.encVersion === 0 ? ref.size : null;
  return {
    uid: ref.uid,
    checksum: ref.checksum,
    size: ref.size,
    encVersion: ref.encVersion,
    encEnvkey: ref.encEnvkey,
    encNonce: ref.encNonce,
    storedSize: ref.storedSize ?? plainSize,
  };
}

/** Builds a page's content one entry at a time, listing each distinct blob once. */
export class PageBuilder {
  readonly blobs: PageBlob[] = [];
  private readonly known = new Map<string, number>();

  constructor(readonly entries: Uint32Array) {}

  /** Sets entry `at` to `blob`. */
  set(at: number, blob: PageBlob): void {
    const key = `${blob.uid}\0${blob.checksum}\0${blob.size}\0${blob.encVersion}\0${blob.encEnvkey}\0` +
      `${blob.encNonce}\0${blob.storedSize}`;
    let index = this.known.get(key);
    if (index === undefined) this.known.set(key, index = this.blobs.push(blob));
    this.entries[at] = index;
  }

  content(): PageContent {
    return { blobs: this.blobs, entries: this.entries };
  }
}

export function encodePage(page: PageContent): EncodedPage {
  const out = new Writer();
  out.bytes(MAGIC);
  out.u16(PAGE_FORMAT_VERSION);
  out.u16(0);
  out.u32(page.entries.length);
  out.u32(page.blobs.length);
  for (const blob of page.blobs) {
    out.hexOrText(blob.uid);
    out.hexOrText(blob.checksum);
    out.u32(blob.size);
    out.u8(blob.encVersion);
    out.hexOrText(blob.encEnvkey);
    out.hexOrText(blob.encNonce);
    out.nullableU32(blob.storedSize);
  }
  for (const entry of page.entries) out.u32(entry);
  const bytes = out.finish();
  return { name: toHex(sha256(bytes)), bytes };
}

/** Decodes and checks page object `name`; a {@link MetaFormatError} for anything that is not a whole, valid one. */
export function decodePage(name: string, bytes: Uint8Array): PageContent {
  if (!startsWith(bytes, MAGIC)) throw new MetaFormatError("it is not a page object (no BKY2PAGE header)");
  if (toHex(sha256(bytes)) !== name) {
    throw new MetaFormatError("integrity check failed (its SHA-256 does not match its name)");
  }
  const input = new Reader(bytes, MAGIC.length);
  const format = input.u16();
  if (format !== PAGE_FORMAT_VERSION) {
    throw new MetaFormatError(
      `it has format version ${format}, which this backy2 does not know (it reads ${PAGE_FORMAT_VERSION})`,
    );
  }
  input.u16();
  const length = input.u32();
  if (length > PAGE_ENTRIES) throw new MetaFormatError(`it has ${length} entries, more than a page holds`);
  const blobs = Array.from({ length: input.count(12) }, (): PageBlob => ({
    uid: input.hexOrText(),
    checksum: input.hexOrText(),
    size: input.u32(),
    encVersion: input.u8(),
    encEnvkey: input.hexOrText(),
    encNonce: input.hexOrText(),
    storedSize: input.nullableU32(),
  }));
  const entries = new Uint32Array(length);
  for (let i = 0; i < length; i++) {
    entries[i] = input.u32();
    if (entries[i] > blobs.length) throw new MetaFormatError("an entry names a blob the page does not list");
  }
  if (!input.atEnd) throw new MetaFormatError("it has bytes after its entries");
  return { blobs, entries };
}
