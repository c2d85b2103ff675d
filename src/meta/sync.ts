/**
 * Keeping each version's metadata in the block store in step with the catalog: a header per version that names
 * page objects, which versions share as the catalog shares its block-map pages.
 *
 * Writing a version's metadata ({@link writeVersionMeta}): cut its block map into pages, ask the catalog which
 * pages have a page object already, write only the others (durably), then the header; the catalog then records
 * the new page objects. An unchanged differential backup thus writes its header and nothing else.
 *
 * A version turns valid only after its header and pages are durable: {@link commitWithMeta} writes them for the
 * commit, then commits. A kill between the two leaves the version in progress in the catalog (`backup -c`
 * finishes it and writes the header again) beside a header that describes the complete version: its blobs and
 * pages were all durable before it was written, so `rebuild-catalog` may bring it back as it is, and
 * `check-store` lists it as ahead of its catalog version. Imports run inside the catalog transaction that adds
 * the version ({@link importWithMeta}), so it becomes visible only after its metadata is durable.
 *
 * Any later change (tags, expire, protection, blobs found bad or good again, rekeyed envkeys) marks the version
 * stale (stale.ts); the CLI rewrites the headers of stale versions before the command ends ({@link writeStale}),
 * and the command fails if that fails. `rm` removes the header after the version ({@link removeHeader}); page
 * objects no header names are left to `cleanup --full`.
 */
import type {
  BlockMap,
  BlockMapRole,
  BlockRecord,
  ImportedVersion,
  PageObjectRole,
  TransferRole,
  VersionRole,
} from "../catalog/catalog.ts";
import type { BlockStore, MetaKind } from "../store/block_store.ts";
import { type Page, toPages } from "../catalog/block_pages.ts";
import { forEachInWindow } from "../engine/task_group.ts";
import { BackyError, Exit } from "../util/errors.ts";
import { fromHex, toHex } from "./binary.ts";
import { encodePage } from "./page_format.ts";
import { encodeHeader, type VersionHeader } from "./header_format.ts";
import { headerFields, type MetaSource, pageFromCatalog } from "./from_catalog.ts";

/** The catalog roles that writing metadata uses. */
export type MetaCatalog = MetaSource & Pick<BlockMapRole, "blockMap"> & PageObjectRole;
/** What a commit with metadata uses. */
export type CommitCatalog = MetaCatalog & Pick<BlockMapRole, "commitVersion">;
/** What an import with metadata uses (a transaction's roles). */
export type ImportTarget = MetaCatalog & Pick<TransferRole, "importVersion">;

type Parts = { catalog: MetaCatalog; store: BlockStore; staleMeta?: Set<string> };

/** Page objects written at once: their writes and durability waits overlap. */
const PAGE_WRITES = 4;

/** A page and the page object it has (recorded, or written now). */
interface NamedPage {
  page: Page;
  name: string;
  fresh: boolean;
}

/**
 * Writes the page objects of `map` that the catalog has none recorded for, each distinct content once; returns
 * every page with its object's name, in order.
 */
async function storePages(store: BlockStore, catalog: MetaCatalog, map: BlockMap): Promise<NamedPage[]> {
  const pages = await toPages(map);
  const recorded = await catalog.pageObjects(pages.map((page) => page.hash));
  const named = pages.map((page, i) => ({ page, name: recorded[i] ? toHex(recorded[i]!) : "", fresh: !recorded[i] }));
  const missing = new Map<string, NamedPage[]>();
  for (const entry of named.filter((entry) => entry.fresh)) {
    const key = toHex(entry.page.hash);
    missing.set(key, [...missing.get(key) ?? [], entry]);
  }
  await forEachInWindow(missing.values(), PAGE_WRITES, async (same) => {
    const { name, bytes } = encodePage(await pageFromCatalog(catalog, same[0].page.ids));
    await writeObject(store, "pages", name, bytes);
    for (const entry of same) entry.name = name;
  });
  return named;
}

/** Records the page objects written for these pages. */
async function recordPages(catalog: PageObjectRole, named: NamedPage[]): Promise<void> {
  const fresh = named.filter((entry) => entry.fresh);
  if (fresh.length === 0) return;
  await catalog.setPageObjects(fresh.map(({ page, name }) => ({ hash: page.hash, object: fromHex(name) })));
}

async function storeHeader(store: BlockStore, header: VersionHeader): Promise<void> {
  await writeObject(store, "versions", header.version.uid, encodeHeader(header));
}

/** Writes one metadata object; a failure is the data backend's (exit 6), naming the object. */
export async function writeObject(store: BlockStore, kind: MetaKind, name: string, bytes: Uint8Array): Promise<void> {
  try {
    await store.writeMeta(kind, name, bytes);
  } catch (error) {
    throw new BackyError(
      `Cannot write metadata object ${kind}/${name} to the data backend: ${describe(error)}`,
      { exitCode: Exit.dataBackend },
    );
  }
}

function describe(error: unknown): string {
  return error instanceof BackyError ? error.message : (error as Error).message ?? String(error);
}

/**
 * Writes the metadata of committed version `uid` as the catalog has it now: its missing page objects, then its
 * header. Nothing (false) for a version in progress.
 */
export async function writeVersionMeta(store: BlockStore, catalog: MetaCatalog, uid: string): Promise<boolean> {
  const version = await catalog.getVersion(uid);
  if (version.inProgress) return false;
  const map = await catalog.blockMap(uid);
  const named = await storePages(store, catalog, map);
  const fields = await headerFields(catalog, version, map);
  await storeHeader(store, { ...fields, pages: named.map((entry) => entry.name) });
  await recordPages(catalog, named);
  return true;
}

/**
 * Commits in-progress version `uid` with `map`, its metadata first. When the commit leaves the version invalid
 * after all (a blob it uses was found bad meanwhile), the header is written again to say so.
 */
export async function commitWithMeta(
  engine: { catalog: CommitCatalog; store: BlockStore },
  uid: string,
  map: BlockMap,
): Promise<void> {
  const { catalog, store } = engine;
  const named = await storePages(store, catalog, map);
  const fields = await headerFields(catalog, await catalog.getVersion(uid), map);
  await storeHeader(store, { ...fields, pages: named.map((entry) => entry.name) });
  await catalog.commitVersion(uid, map);
  await recordPages(catalog, named);
  if (fields.version.valid && !(await catalog.getVersion(uid)).valid) await writeVersionMeta(store, catalog, uid);
}

/**
 * Adds a finished version with its blocks (`import`, `migrate-catalog`) and writes its metadata. Call it in the
 * transaction that adds the version, so that the version exists only once its metadata is durable.
 */
export async function importWithMeta(
  store: BlockStore,
  tx: ImportTarget,
  version: ImportedVersion,
  blocks: BlockRecord[],
): Promise<void> {
  await tx.importVersion(version, blocks);
  await writeVersionMeta(store, tx, version.uid);
}

/** Writes the headers of the versions marked stale (and any page object they lack); returns how many. */
export async function writeStale(engine: Parts): Promise<number> {
  const stale = engine.staleMeta;
  if (!stale) return 0;
  let written = 0;
  for (const uid of [...stale].sort()) {
    if (await exists(engine.catalog, uid) && await writeVersionMeta(engine.store, engine.catalog, uid)) written++;
    stale.delete(uid);
  }
  return written;
}

async function exists(catalog: Pick<VersionRole, "getVersion">, uid: string): Promise<boolean> {
  try {
    await catalog.getVersion(uid);
    return true;
  } catch (error) {
    if (error instanceof BackyError) return false; // not found
    throw error;
  }
}

/** Removes the header of a version `rm` removed from the catalog. */
export async function removeHeader(store: BlockStore, uid: string): Promise<void> {
  try {
    await store.removeMeta("versions", uid);
  } catch (error) {
    throw new BackyError(
      `Version ${uid} is removed, but not its metadata object versions/${uid} in the data backend: ${describe(error)}`,
      { exitCode: Exit.dataBackend },
    );
  }
}
