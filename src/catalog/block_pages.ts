/**
 * Block maps stored as shared pages.
 *
 * A version's block map (one u32 reference id per block) is cut into pages of {@link PAGE_ENTRIES} ids. Pages
 * are stored once per distinct content and counted by the versions using them, so a differential backup that
 * changes k blocks adds at most k new pages plus a list of page ids: catalog growth follows the change, not
 * the image size.
 */
import { sha256 } from "../util/sha256.ts";
import { openSslDigestNow } from "../platform/libcrypto.ts";

export const PAGE_ENTRIES = 1024;

export interface Page {
  hash: Uint8Array;
  bytes: Uint8Array;
  /** The page's entries (a view on the map). */
  ids: Uint32Array;
}

/** Cuts a block map into pages, each with its content hash. */
export function toPages(map: Uint32Array): Page[] {
  const pages: Page[] = [];
  for (let start = 0; start < map.length; start += PAGE_ENTRIES) {
    const ids = map.subarray(start, Math.min(map.length, start + PAGE_ENTRIES));
    const bytes = packIds(ids);
    pages.push({ bytes, hash: pageHash(bytes), ids });
  }
  return pages;
}

let openSslSha256: ((data: Uint8Array<ArrayBuffer>) => Uint8Array) | null | undefined;

/**
 * SHA-256 of a page: OpenSSL's when it can be loaded (a 1 TiB map is 256 pages, which the plain TypeScript
 * digest hashes slowly and only after the JIT spent megabytes compiling it), checked once against ours.
 */
function pageHash(bytes: Uint8Array): Uint8Array {
  if (openSslSha256 === undefined) {
    openSslSha256 = openSslDigestNow("sha256", 32);
    const probe = new Uint8Array([1, 2, 3]);
    if (openSslSha256 && !equal(openSslSha256(probe), sha256(probe))) {
      throw new Error("OpenSSL sha256 disagrees with the built-in one; refusing to continue");
    }
  }
  return openSslSha256 ? openSslSha256(bytes as Uint8Array<ArrayBuffer>) : sha256(bytes);
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}

const LITTLE_ENDIAN = new Uint8Array(Uint32Array.of(1).buffer)[0] === 1;

/** Little-endian bytes of a u32 array: a view on little-endian machines (every one we run on), else a copy. */
export function packIds(ids: Uint32Array): Uint8Array {
  if (LITTLE_ENDIAN) return new Uint8Array(ids.buffer, ids.byteOffset, ids.byteLength);
  const bytes = new Uint8Array(ids.length * 4);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < ids.length; i++) view.setUint32(i * 4, ids[i], true);
  return bytes;
}

let scratch = new Uint32Array(PAGE_ENTRIES);

/**
 * Adds how often each nonzero id occurs in `ids` to `counts`. Sorted first, so that the JavaScript loop runs
 * once per distinct id (a page of one sparse run is one step) and native code does the per-entry work.
 */
export function countIds(ids: Uint32Array, counts: Map<number, number>): void {
  if (scratch.length < ids.length) scratch = new Uint32Array(ids.length);
  const sorted = scratch.subarray(0, ids.length);
  sorted.set(ids);
  sorted.sort();
  for (let start = 0; start < sorted.length;) {
    const id = sorted[start];
    const end = upperBound(sorted, id, start);
    if (id !== 0) counts.set(id, (counts.get(id) ?? 0) + end - start);
    start = end;
  }
}

/** The first index at or after `from` whose value in the ascending `sorted` exceeds `value`. */
function upperBound(sorted: Uint32Array, value: number, from: number): number {
  let [low, high] = [from, sorted.length];
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (sorted[middle] <= value) low = middle + 1;
    else high = middle;
  }
  return low;
}

/** The u32 array of little-endian bytes. */
export function unpackIds(bytes: Uint8Array): Uint32Array {
  const ids = new Uint32Array(bytes.length / 4);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i < ids.length; i++) ids[i] = view.getUint32(i * 4, true);
  return ids;
}
