/**
 * `rebuild-catalog`: the catalog rebuilt from the block store alone, one version per header.
 *
 * Every header whose version the catalog lacks is read with its page objects, checked (integrity, format
 * version, key, that it describes the version its name says) and imported in a transaction of its own, so a
 * bad header or page object is skipped and reported (by name) and never leaves half a version behind. Versions
 * the catalog has are skipped: running it again is harmless. A blob a version names that the store does not
 * have makes that version invalid (reported), so no restore trusts it and no backup deduplicates onto it.
 */
import type { Catalog } from "../catalog/catalog.ts";
import type { BlockStore } from "../store/block_store.ts";
import type { Logger } from "../log/logger.ts";
import { loadHeader, UnusableMeta } from "./load.ts";
import { importHeader } from "./into_catalog.ts";

export interface Skipped {
  /** The version skipped. */
  uid: string;
  /** The metadata object that could not be used (`versions/{uid}` or a page object), named. */
  object: string;
  kind: string;
  reason: string;
}

export interface RebuildOutcome {
  /** Version headers in the store. */
  found: number;
  imported: string[];
  /** Imported, but invalid: blobs they name are missing from the store. */
  incomplete: { uid: string; missing: string[] }[];
  /** Already in the catalog. */
  present: string[];
  skipped: Skipped[];
}

export async function rebuildCatalog(
  engine: { catalog: Catalog; store: BlockStore; log: Logger },
): Promise<RebuildOutcome> {
  const { catalog, store, log } = engine;
  const names = (await store.listMeta("versions")).map((meta) => meta.name);
  const known = new Set((await catalog.listVersions()).map((version) => version.uid));
  const outcome: RebuildOutcome = { found: names.length, imported: [], incomplete: [], present: [], skipped: [] };
  const wanted = names.filter((name) => !known.has(name));
  outcome.present = names.filter((name) => known.has(name));
  for (const uid of outcome.present) log.info(`Version ${uid} is in the catalog already; skipped.`);
  if (wanted.length === 0) return outcome;
  log.info(`Listing the blobs of the data backend to check ${wanted.length} versions against them.`);
  const blobs = new Set<string>();
  for await (const blob of store.list()) blobs.add(blob.uid);
  for (const name of wanted) {
    try {
      const header = await loadHeader(store, name);
      const missing = await importHeader(catalog, store, header, (uid) => blobs.has(uid));
      outcome.imported.push(name);
      if (missing.length === 0) {
        log.info(`Rebuilt version ${name} (${header.version.name}, ${header.version.size} blocks).`);
        continue;
      }
      outcome.incomplete.push({ uid: name, missing });
      log.error(
        `Rebuilt version ${name} (${header.version.name}) as invalid: ${missing.length} blobs it names are missing ` +
          `from the data backend (${missing.slice(0, 3).join(", ")}${missing.length > 3 ? ", ..." : ""}).`,
      );
    } catch (error) {
      if (!(error instanceof UnusableMeta)) throw error;
      outcome.skipped.push({ uid: name, object: error.object, kind: error.kind, reason: error.message });
      log.error(`Skipped: ${error.message}`);
    }
  }
  return outcome;
}
