/**
 * `rebuild-catalog`: the catalog rebuilt from the block store alone, one version per metadata object.
 *
 * Every object whose version the catalog lacks is read, checked (integrity, format version, key, that it
 * describes the version its name says) and imported in a transaction of its own, so a bad object is skipped and
 * reported and never leaves half a version behind. Versions the catalog has are skipped: running it again is
 * harmless. A blob an object names that the store does not have makes that version invalid (reported), so no
 * restore trusts it and no backup deduplicates onto it.
 */
import type { Engine } from "../engine/engine.ts";
import { loadMeta, UnusableMeta } from "./load.ts";
import { importMeta } from "./into_catalog.ts";

export interface Skipped {
  object: string;
  kind: string;
  reason: string;
}

export interface RebuildOutcome {
  /** Metadata objects in the store. */
  found: number;
  imported: string[];
  /** Imported, but invalid: blobs they name are missing from the store. */
  incomplete: { uid: string; missing: string[] }[];
  /** Already in the catalog. */
  present: string[];
  skipped: Skipped[];
}

export async function rebuildCatalog(engine: Pick<Engine, "catalog" | "store" | "log">): Promise<RebuildOutcome> {
  const { catalog, store, log } = engine;
  const names = await store.listMeta();
  const known = new Set(catalog.listVersions().map((version) => version.uid));
  const outcome: RebuildOutcome = { found: names.length, imported: [], incomplete: [], present: [], skipped: [] };
  const wanted = names.filter((name) => !known.has(name));
  outcome.present = names.filter((name) => known.has(name));
  for (const uid of outcome.present) log.info(`Version ${uid} is in the catalog already; skipped.`);
  if (wanted.length === 0) return outcome;
  log.info(`Listing the blobs of the data backend to check ${wanted.length} metadata objects against them.`);
  const blobs = new Set<string>();
  for await (const blob of store.list()) blobs.add(blob.uid);
  for (const name of wanted) {
    try {
      const meta = await loadMeta(store, name);
      const missing = await importMeta(catalog, meta, (uid) => blobs.has(uid));
      outcome.imported.push(name);
      if (missing.length === 0) {
        log.info(`Rebuilt version ${name} (${meta.version.name}, ${meta.map.length} blocks).`);
        continue;
      }
      outcome.incomplete.push({ uid: name, missing });
      log.error(
        `Rebuilt version ${name} (${meta.version.name}) as invalid: ${missing.length} blobs it names are missing ` +
          `from the data backend (${missing.slice(0, 3).join(", ")}${missing.length > 3 ? ", ..." : ""}).`,
      );
    } catch (error) {
      if (!(error instanceof UnusableMeta)) throw error;
      outcome.skipped.push({ object: name, kind: error.kind, reason: error.message });
      log.error(`Skipped: ${error.message}`);
    }
  }
  return outcome;
}
