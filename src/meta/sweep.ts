/**
 * What `cleanup --full` learns from the metadata in the block store, and the page objects it deletes.
 *
 * Every header is read, and the page objects it names are kept: page objects no header names are garbage (a
 * removed version's, a rekey's old ones, a killed backup's). The rule is the store's own, so it holds whichever
 * catalog wrote them; only page objects older than the cleanup grace period go, so that a backup on another
 * host that wrote its pages but not yet its header keeps them. When a header cannot be read, which pages it
 * names is unknown, and no page object goes.
 *
 * Headers whose version the catalog lacks are read with their pages: the blobs they name are kept, since they
 * may be all that is left of a version `rebuild-catalog` can bring back.
 */
import type { BlockStore } from "../store/block_store.ts";
import type { Logger } from "../log/logger.ts";
import { loadHeader, loadPage, UnusableMeta } from "./load.ts";

export interface StoreInventory {
  /** Page objects some header names. */
  namedPages: Set<string>;
  /** False when a header could not be read: which pages are named is not known. */
  complete: boolean;
  /** Blob uids named by headers whose version the catalog lacks. */
  orphanBlobs: Set<string>;
  /** Those headers (version uids). */
  orphanHeaders: string[];
  /** Headers, or page objects of orphan headers, that could not be read. */
  unreadable: UnusableMeta[];
}

/** Reads every header; `known`: the versions the catalog has. */
export async function storeInventory(store: BlockStore, known: Set<string>): Promise<StoreInventory> {
  const inventory: StoreInventory = {
    namedPages: new Set(),
    complete: true,
    orphanBlobs: new Set(),
    orphanHeaders: [],
    unreadable: [],
  };
  for (const { name: uid } of await store.listMeta("versions")) {
    try {
      const header = await loadHeader(store, uid);
      for (const page of header.pages) inventory.namedPages.add(page);
      if (known.has(uid)) continue;
      inventory.orphanHeaders.push(uid);
      for (const page of new Set(header.pages)) await addBlobsOf(store, page, inventory);
    } catch (error) {
      if (!(error instanceof UnusableMeta)) throw error;
      inventory.unreadable.push(error);
      inventory.complete = false;
    }
  }
  return inventory;
}

async function addBlobsOf(store: BlockStore, page: string, inventory: StoreInventory): Promise<void> {
  try {
    for (const blob of (await loadPage(store, page)).blobs) if (blob.uid !== null) inventory.orphanBlobs.add(blob.uid);
  } catch (error) {
    if (!(error instanceof UnusableMeta)) throw error;
    inventory.unreadable.push(error);
  }
}

/** Deletes the page objects no header names that are older than `cutoff` (ms); returns how many. */
export async function sweepPages(
  store: BlockStore,
  inventory: StoreInventory,
  cutoff: number,
  log: Logger,
): Promise<number> {
  if (!inventory.complete) {
    log.warning("Cleanup: kept every page object, since some version headers could not be read (see above).");
    return 0;
  }
  let young = 0;
  let removed = 0;
  for (const { name, modified } of await store.listMeta("pages")) {
    if (inventory.namedPages.has(name)) continue;
    if (modified.getTime() > cutoff) young++;
    else if (await store.removeMeta("pages", name)) removed++;
  }
  if (removed > 0) log.info(`Cleanup: Removed ${removed} page objects no version header names`);
  if (young > 0) log.info(`Cleanup: Kept ${young} unnamed page objects younger than the grace period.`);
  return removed;
}
