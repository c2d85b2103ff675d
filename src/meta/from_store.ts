/**
 * Working from the block store alone: versions loaded from their metadata objects into a catalog in memory
 * (`restore --from-store`, `scrub --from-store`), and the blobs named by objects whose version the catalog
 * lacks (which `cleanup --full` keeps, since they may be all that is left of a lost version).
 */
import type { Engine } from "../engine/engine.ts";
import type { VersionMeta } from "./format.ts";
import { importMeta } from "./into_catalog.ts";
import { loadMeta, UnusableMeta } from "./load.ts";

type Parts = Pick<Engine, "catalog" | "store">;

/**
 * Loads version `uid` from its object into the engine's catalog (meant to be one in memory). Throws an
 * {@link UnusableMeta} when the object is missing or cannot be used.
 */
export async function loadVersion(engine: Parts, uid: string): Promise<VersionMeta> {
  const meta = await loadMeta(engine.store, uid);
  // Missing blobs are for the restore or scrub to find and report.
  await importMeta(engine.catalog, meta, () => true);
  return meta;
}

export interface OrphanBlobs {
  /** Blob uids named by objects whose version the catalog lacks. */
  blobs: Set<string>;
  /** Those objects. */
  objects: string[];
  /** Objects without a catalog version that could not be read: their blobs are unknown. */
  unreadable: UnusableMeta[];
}

/** The blobs that objects without a version in the catalog name. */
export async function orphanBlobs(engine: Parts): Promise<OrphanBlobs> {
  const known = new Set(engine.catalog.listVersions().map((version) => version.uid));
  const result: OrphanBlobs = { blobs: new Set(), objects: [], unreadable: [] };
  for (const name of await engine.store.listMeta()) {
    if (known.has(name)) continue;
    try {
      const meta = await loadMeta(engine.store, name);
      for (const blob of meta.blobs) if (blob.uid !== null) result.blobs.add(blob.uid);
      result.objects.push(name);
    } catch (error) {
      if (!(error instanceof UnusableMeta)) throw error;
      result.unreadable.push(error);
    }
  }
  return result;
}
