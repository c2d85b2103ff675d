/**
 * A version's metadata object as the catalog describes it: the one place that reads the catalog to build one.
 *
 * Three sources give the same object for the same version: a committed version ({@link metaOfVersion}), a
 * version about to be committed with its final block map ({@link metaOfCommit}, written before the commit makes
 * it valid), and a version with its blocks as a dump or a backy2 catalog lists them ({@link metaFromBlocks},
 * written before `import` or `migrate-catalog` adds it). Blobs are listed once per distinct set of fields, in
 * the order the blocks first use them, so the bytes do not depend on the catalog's internal reference ids.
 */
import { Buffer } from "node:buffer";
import type { BlobRef, BlockMap, BlockRecord, Catalog, ImportedVersion, Version } from "../catalog/catalog.ts";
import type { MetaBlob, MetaVersion, VersionMeta } from "./format.ts";

/** The metadata of committed version `uid`, as the catalog has it now. */
export function metaOfVersion(catalog: Catalog, uid: string): VersionMeta {
  return metaFromBlocks(catalog.getVersion(uid), catalog.exportBlocks(uid));
}

/**
 * The metadata version `uid` (in progress) will have once `map` is committed: valid unless a block uses a blob
 * found bad, as the commit decides.
 */
export function metaOfCommit(catalog: Catalog, uid: string, map: BlockMap): VersionMeta {
  const version = catalog.getVersion(uid);
  const refs = catalog.refs(new Set(map));
  const table = new BlobTable();
  const indexOf = new Map<number, number>();
  const local = new Uint32Array(map.length);
  for (let id = 0; id < map.length; id++) {
    const ref = refs.get(map[id]);
    if (!ref) continue;
    let index = indexOf.get(ref.id);
    if (index === undefined) indexOf.set(ref.id, index = table.indexOf(metaBlob(ref)));
    local[id] = index;
  }
  const valid = [...refs.values()].every((ref) => ref.valid);
  return { version: { ...metaVersion(version), valid }, blobs: table.blobs, map: local, blockDates: [] };
}

/** The metadata of a version with its recorded blocks (in any order; missing ids are unrecorded blocks). */
export function metaFromBlocks(version: ImportedVersion | Version, blocks: BlockRecord[]): VersionMeta {
  const table = new BlobTable();
  const map = new Uint32Array(version.size);
  const blockDates: [number, string][] = [];
  for (const block of [...blocks].sort((a, b) => a.id - b.id)) {
    map[block.id] = table.indexOf(metaBlob(block));
    if (block.date !== version.date) blockDates.push([block.id, block.date]);
  }
  return { version: metaVersion(version), blobs: table.blobs, map, blockDates };
}

function metaVersion(version: ImportedVersion | Version): MetaVersion {
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
    tags: catalogOrder(version.tags),
    blockSize: version.blockSize ?? null,
    hashFunction: version.hashFunction ?? null,
  };
}

/** Distinct tags in the catalog's order (SQLite compares the UTF-8 bytes), whatever order a dump had. */
function catalogOrder(tags: string[]): string[] {
  return [...new Set(tags)].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
}

/** A blob's fields as the object keeps them; a plain blob's unknown stored size is its size, as the catalog says. */
function metaBlob(ref: Omit<BlobRef, "id" | "storedSize"> & { storedSize?: number | null }): MetaBlob {
  const plainSize = ref.uid !== null && ref.encVersion === 0 ? ref.size : null;
  return {
    uid: ref.uid,
    checksum: ref.checksum,
    size: ref.size,
    valid: ref.valid,
    encVersion: ref.encVersion,
    encEnvkey: ref.encEnvkey,
    encNonce: ref.encNonce,
    storedSize: ref.storedSize ?? plainSize,
  };
}

/** The distinct blobs in order of first use; {@link indexOf} answers 1 + a blob's index. */
class BlobTable {
  readonly blobs: MetaBlob[] = [];
  private readonly known = new Map<string, number>();

  indexOf(blob: MetaBlob): number {
    const key = `${blob.uid}\0${blob.checksum}\0${blob.size}\0${blob.valid}\0${blob.encVersion}\0${blob.encEnvkey}\0` +
      `${blob.encNonce}\0${blob.storedSize}`;
    let index = this.known.get(key);
    if (index === undefined) this.known.set(key, index = this.blobs.push(blob));
    return index;
  }
}
