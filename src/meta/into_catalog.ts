/**
 * A version from its header and page objects into a catalog: the one place that writes the store's metadata
 * into one (`rebuild-catalog` into the configured catalog, `restore --from-store` and `scrub --from-store` into
 * one in memory). Pages are read one at a time, so memory follows one version's blocks, never the store's. It
 * goes through the catalog's import, so the version, its tags, flags and block dates, and its blob references
 * with their counts arrive in one transaction, shared with the versions already there; the catalog then records
 * which page object each of its pages has, so the next backup writes none of them again.
 *
 * A blob the store does not have is imported as invalid, and so is the version that uses it; the blobs the
 * header lists as invalid stay invalid.
 */
import type {
  BlockMapRole,
  BlockRecord,
  ImportedVersion,
  PageObjectRole,
  Transactional,
  TransferRole,
} from "../catalog/catalog.ts";
import { PAGE_ENTRIES, toPages } from "../catalog/block_pages.ts";
import type { BlockStore } from "../store/block_store.ts";
import { fromHex } from "./binary.ts";
import type { VersionHeader } from "./header_format.ts";
import type { PageContent } from "./page_format.ts";
import { loadPage, UnusableMeta } from "./load.ts";

export interface Importable {
  version: ImportedVersion;
  blocks: BlockRecord[];
  /** Uids of the blobs the version names that `present` says the store lacks, sorted. */
  missing: string[];
}

type ImportRoles = Pick<TransferRole, "importVersion"> & Pick<BlockMapRole, "blockMap"> & PageObjectRole;
/** The catalog roles an import from the store uses. */
export type ImportCatalog = Transactional<ImportRoles>;

/** The version and block records of a header and its pages, with the blobs `present` denies marked invalid. */
export async function importable(
  store: BlockStore,
  header: VersionHeader,
  present: (uid: string) => boolean,
): Promise<Importable> {
  const { version: fields } = header;
  const invalid = new Set(header.invalidBlobs.map((blob) => `${blob.uid}\0${blob.checksum}`));
  const dates = new Map(header.blockDates);
  const missing = new Set<string>();
  const blocks: BlockRecord[] = [];
  let last = { name: "", page: { blobs: [], entries: new Uint32Array(0) } as PageContent };
  for (const [index, name] of header.pages.entries()) {
    // A run of equal pages (a sparse region) is read once.
    if (last.name !== name) last = { name, page: await loadPage(store, name) };
    const { page } = last;
    const first = index * PAGE_ENTRIES;
    const expected = Math.min(PAGE_ENTRIES, fields.size - first);
    if (page.entries.length !== expected) {
      throw new UnusableMeta(
        `pages/${name}`,
        "damaged",
        `Metadata object pages/${name} has ${page.entries.length} entries where version ${fields.uid} needs ${expected}.`,
      );
    }
    page.entries.forEach((entry, at) => {
      if (entry === 0) return;
      const blob = page.blobs[entry - 1];
      let valid = blob.uid === null || !invalid.has(`${blob.uid}\0${blob.checksum}`);
      if (blob.uid !== null && !present(blob.uid)) valid = (missing.add(blob.uid), false);
      const id = first + at;
      blocks.push({ ...blob, valid, id, date: dates.get(id) ?? fields.date });
    });
  }
  const version: ImportedVersion = { ...fields, valid: fields.valid && missing.size === 0 };
  return { version, blocks, missing: [...missing].sort() };
}

/**
 * Adds the header's version to `catalog` in one transaction (its pages are read before it); returns the blobs
 * it found missing.
 */
export async function importHeader(
  catalog: ImportCatalog,
  store: BlockStore,
  header: VersionHeader,
  present: (uid: string) => boolean,
): Promise<string[]> {
  const { version, blocks, missing } = await importable(store, header, present);
  await catalog.withTransaction(async (tx) => {
    await tx.importVersion(version, blocks);
    await recordImportedPages(tx, header);
  });
  return missing;
}

/** The imported version's pages are the header's, page by page: the catalog records their objects. */
async function recordImportedPages(catalog: ImportRoles, header: VersionHeader): Promise<void> {
  const pages = await toPages(await catalog.blockMap(header.version.uid));
  if (pages.length !== header.pages.length) return;
  await catalog.setPageObjects(pages.map((page, i) => ({ hash: page.hash, object: fromHex(header.pages[i]) })));
}
