/**
 * Keeping each version's metadata object in step with the catalog.
 *
 * A version turns valid only after its object is durable: {@link commitWithMeta} writes the object a commit
 * will make true, then commits. A kill between the two leaves the version in progress in the catalog (`backup
 * -c` finishes it and writes the object again) beside an object that describes the complete version: its
 * blobs were all durable before it was written, so `rebuild-catalog` may bring it back as it is, and
 * `check-store` lists it as ahead of its catalog version.
 *
 * Any later change (tags, expire, protection, blobs found bad or good again, rekeyed envkeys) marks the
 * version stale ({@link markStale}); the CLI rewrites the objects of stale versions before the command ends
 * ({@link writeStale}), and the command fails if that fails. `rm` removes the object after the version.
 */
import type { BlockMap, BlockRecord, Catalog, ImportedVersion } from "../catalog/catalog.ts";
import type { BlockStore } from "../store/block_store.ts";
import type { Engine } from "../engine/engine.ts";
import { BackyError, Exit } from "../util/errors.ts";
import { encodeMeta, type VersionMeta } from "./format.ts";
import { metaFromBlocks, metaOfCommit, metaOfVersion } from "./from_catalog.ts";

type Parts = Pick<Engine, "catalog" | "store" | "staleMeta">;

/** Stores `meta` as its version's object; durable when it resolves. */
export async function storeMeta(store: BlockStore, meta: VersionMeta): Promise<void> {
  const { uid } = meta.version;
  try {
    await store.writeMeta(uid, await encodeMeta(meta));
  } catch (error) {
    throw new BackyError(
      `Cannot write the metadata object of version ${uid} to the data backend: ${describe(error)}`,
      { exitCode: Exit.dataBackend },
    );
  }
}

function describe(error: unknown): string {
  return error instanceof BackyError ? error.message : (error as Error).message ?? String(error);
}

/**
 * Commits in-progress version `uid` with `map`, its object first. When the commit leaves the version invalid
 * after all (a blob it uses was found bad meanwhile), the object is written again to say so.
 */
export async function commitWithMeta(engine: Parts, uid: string, map: BlockMap): Promise<void> {
  const { catalog, store } = engine;
  const meta = metaOfCommit(catalog, uid, map);
  await storeMeta(store, meta);
  await catalog.commitVersion(uid, map);
  if (meta.version.valid && !catalog.getVersion(uid).valid) await rewriteMeta(engine, uid);
}

/**
 * Adds a finished version with its blocks (`import`, `migrate-catalog`), its object first. A uid the catalog
 * has already is refused by the import before any object is written.
 */
export async function importWithMeta(engine: Parts, version: ImportedVersion, blocks: BlockRecord[]): Promise<void> {
  if (!exists(engine.catalog, version.uid)) await storeMeta(engine.store, metaFromBlocks(version, blocks));
  await engine.catalog.importVersion(version, blocks);
}

/**
 * Writes the object of version `uid` as the catalog has it now; nothing (false) for a version in progress or
 * gone.
 */
export async function rewriteMeta(engine: Parts, uid: string): Promise<boolean> {
  if (!committed(engine.catalog, uid)) return false;
  await storeMeta(engine.store, metaOfVersion(engine.catalog, uid));
  return true;
}

function committed(catalog: Catalog, uid: string): boolean {
  return exists(catalog, uid) && !catalog.getVersion(uid).inProgress;
}

function exists(catalog: Catalog, uid: string): boolean {
  try {
    catalog.getVersion(uid);
    return true;
  } catch (error) {
    if (error instanceof BackyError) return false; // not found
    throw error;
  }
}

/** Notes that the objects of these versions no longer match the catalog. */
export function markStale(engine: Pick<Engine, "staleMeta">, uids: Iterable<string>): void {
  for (const uid of uids) engine.staleMeta?.add(uid);
}

/** Rewrites the objects of the versions marked stale; returns how many it wrote. */
export async function writeStale(engine: Parts): Promise<number> {
  const stale = engine.staleMeta;
  if (!stale) return 0;
  let written = 0;
  for (const uid of [...stale].sort()) {
    if (await rewriteMeta(engine, uid)) written++;
    stale.delete(uid);
  }
  return written;
}

/** Removes the object of a version `rm` removed from the catalog. */
export async function removeMeta(store: BlockStore, uid: string): Promise<void> {
  try {
    await store.removeMeta(uid);
  } catch (error) {
    throw new BackyError(
      `Version ${uid} is removed, but not its metadata object in the data backend: ${describe(error)}`,
      { exitCode: Exit.dataBackend },
    );
  }
}
