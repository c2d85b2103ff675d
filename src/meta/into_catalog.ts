/**
 * A version from its metadata object into a catalog: the one place that writes an object's content into one
 * (`rebuild-catalog` into the configured catalog, `restore --from-store` and `scrub --from-store` into one in
 * memory). It goes through the catalog's import, so the version, its tags, flags and block dates, and its
 * blob references with their counts arrive in one transaction, shared with the versions already there.
 *
 * A blob the store does not have is imported as invalid, and so is the version that uses it.
 */
import type { BlockRecord, Catalog, ImportedVersion } from "../catalog/catalog.ts";
import type { VersionMeta } from "./format.ts";

export interface Importable {
  version: ImportedVersion;
  blocks: BlockRecord[];
  /** Uids of the blobs the object names that `present` says the store lacks. */
  missing: string[];
}

/** The version and block records of an object, with the blobs `present` denies marked invalid. */
export function importable(meta: VersionMeta, present: (uid: string) => boolean): Importable {
  const missing = new Set<string>();
  const flags = meta.blobs.map((blob) => {
    if (blob.uid === null || present(blob.uid)) return blob.valid;
    missing.add(blob.uid);
    return false;
  });
  const dates = new Map(meta.blockDates);
  const { version: fields } = meta;
  const blocks: BlockRecord[] = [];
  meta.map.forEach((index, id) => {
    if (index === 0) return;
    const blob = meta.blobs[index - 1];
    blocks.push({ ...blob, valid: flags[index - 1], id, date: dates.get(id) ?? fields.date });
  });
  const version: ImportedVersion = { ...fields, valid: fields.valid && missing.size === 0 };
  return { version, blocks, missing: [...missing].sort() };
}

/** Adds the object's version to `catalog` (one transaction); returns the blobs it found missing. */
export async function importMeta(
  catalog: Catalog,
  meta: VersionMeta,
  present: (uid: string) => boolean,
): Promise<string[]> {
  const { version, blocks, missing } = importable(meta, present);
  await catalog.importVersion(version, blocks);
  return missing;
}
