/**
 * A version's metadata as the catalog describes it: the one place that reads the catalog to build page objects
 * and headers.
 *
 * A page object comes from one catalog page (its reference ids resolved to blobs); a header from the version's
 * row, its tags, its block dates and the invalid blobs its map uses. Blobs are listed by their fields, never by
 * the catalog's reference ids, so the bytes do not depend on which catalog wrote them.
 */
import { Buffer } from "node:buffer";
import type { BlobRole, BlockMap, TransferRole, Version, VersionRole } from "../catalog/catalog.ts";
import { pageBlob, PageBuilder, type PageContent } from "./page_format.ts";
import type { BlobKey, MetaVersion, VersionHeader } from "./header_format.ts";

/** The catalog roles metadata is read from. */
export type MetaSource =
  & Pick<VersionRole, "getVersion">
  & Pick<BlobRole, "refs" | "invalidRefIds">
  & Pick<TransferRole, "blockDates">;

/** The page object content of a catalog page: its reference ids (0: a block never recorded) resolved. */
export async function pageFromCatalog(catalog: Pick<BlobRole, "refs">, ids: Uint32Array): Promise<PageContent> {
  const refs = await catalog.refs(new Set(ids.filter((id) => id !== 0)));
  const builder = new PageBuilder(new Uint32Array(ids.length));
  ids.forEach((id, at) => {
    if (id === 0) return;
    const ref = refs.get(id);
    if (!ref) throw new Error(`The catalog has no blob reference ${id}, which a block map names.`);
    builder.set(at, pageBlob(ref));
  });
  return builder.content();
}

/**
 * Everything of a version's header but its page names, for `version` with block map `map`. A version in
 * progress is described as its commit will make it: valid unless its map uses an invalid blob, with no block
 * dates (only imports have those).
 */
export async function headerFields(
  catalog: MetaSource,
  version: Version,
  map: BlockMap,
): Promise<Omit<VersionHeader, "pages">> {
  const invalidBlobs = await invalidBlobsOf(catalog, map);
  const valid = version.inProgress ? invalidBlobs.length === 0 : version.valid;
  const blockDates = version.inProgress ? [] : await catalog.blockDates(version.uid);
  return { version: { ...metaVersion(version), valid }, invalidBlobs, blockDates };
}

/** The invalid blobs `map` uses (few: only blobs found bad), sorted. */
async function invalidBlobsOf(catalog: Pick<BlobRole, "refs" | "invalidRefIds">, map: BlockMap): Promise<BlobKey[]> {
  const invalid = await catalog.invalidRefIds();
  if (invalid.size === 0) return [];
  const used = new Set<number>();
  for (const id of map) if (invalid.has(id)) used.add(id);
  const keys = new Map<string, BlobKey>();
  for (const ref of (await catalog.refs(used)).values()) {
    if (ref.uid !== null) keys.set(`${ref.uid}\0${ref.checksum}`, { uid: ref.uid, checksum: ref.checksum });
  }
  return [...keys.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, key]) => key);
}

function metaVersion(version: Version): MetaVersion {
  return {
    uid: version.uid,
    date: version.date,
    expire: version.expire,
    name: version.name,
    snapshotName: version.snapshotName,
    size: version.size,
    sizeBytes: version.sizeBytes,
    valid: version.valid,
    protected: version.protected,
    tags: byteOrder(version.tags),
    blockSize: version.blockSize,
    hashFunction: version.hashFunction,
  };
}

/** Distinct tags in the order of their UTF-8 bytes, whatever order a catalog lists them in. */
function byteOrder(tags: string[]): string[] {
  return [...new Set(tags)].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
}
