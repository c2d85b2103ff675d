/**
 * Working from the block store alone (`restore --from-store`, `scrub --from-store`): a version loaded from its
 * header and page objects into a catalog in memory.
 */
import type { Catalog } from "../catalog/catalog.ts";
import type { BlockStore } from "../store/block_store.ts";
import type { VersionHeader } from "./header_format.ts";
import { importHeader } from "./into_catalog.ts";
import { loadHeader } from "./load.ts";

/**
 * Loads version `uid` from its metadata into `catalog` (meant to be one in memory). Throws an
 * {@link UnusableMeta} (load.ts) when its header or a page object is missing or cannot be used.
 */
export async function loadVersion(
  engine: { catalog: Catalog; store: BlockStore },
  uid: string,
): Promise<VersionHeader> {
  const header = await loadHeader(engine.store, uid);
  // Missing blobs are for the restore or scrub to find and report.
  await importHeader(engine.catalog, engine.store, header, () => true);
  return header;
}
