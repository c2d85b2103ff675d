/**
 * SQLite block maps: a running backup's draft (one packed blob in `versions.draft`), committed maps as shared
 * pages (see ../block_pages.ts) that count the references they use in `blobs.refs`.
 */
import type { BlockMap, BlockMapRole } from "../catalog.ts";
import { countIds, packIds, type Page, toPages, unpackIds } from "../block_pages.ts";
import { versionNotFound } from "../../util/errors.ts";
import type { SqliteConnection, SqliteScope } from "./scope.ts";
import { recordDeleteCandidates } from "./cleanup.ts";
import { invalidRefIdsSync } from "./blobs.ts";

export function blockMapRole(scope: SqliteScope): BlockMapRole {
  return {
    blockMap: (uid) => scope.read((conn) => blockMapSync(conn, uid)),
    saveDraft: (uid, map) =>
      scope.write((conn) => {
        conn.stmt("UPDATE versions SET draft = ? WHERE uid = ? AND draft IS NOT NULL").run(packIds(map), uid);
      }),
    async commitVersion(uid, map) {
      const committed = map.slice(); // hashed before the transaction that stores it: nothing may change it meanwhile
      if (committed.includes(0)) throw new Error(`commitVersion: version ${uid} has blocks without a reference`);
      const pages = await toPages(committed);
      await scope.write((conn) => commitSync(conn, uid, committed, pages));
    },
    referenceCounts: () => scope.read(referenceCountsSync),
  };
}

export function blockMapSync(conn: SqliteConnection, uid: string): BlockMap {
  const row = conn.stmt("SELECT size, pages, draft FROM versions WHERE uid = ?").get(uid) as
    | { size: number; pages: Uint8Array | null; draft: Uint8Array | null }
    | undefined;
  if (!row) throw versionNotFound(uid);
  const map = new Uint32Array(row.size);
  if (row.draft) {
    const draft = unpackIds(row.draft);
    map.set(draft.subarray(0, Math.min(draft.length, map.length)));
    return map;
  }
  let offset = 0;
  for (const pageId of row.pages ? unpackIds(row.pages) : []) {
    const page = conn.stmt("SELECT ids FROM pages WHERE id = ?").get(pageId) as { ids: Uint8Array };
    const ids = unpackIds(page.ids);
    map.set(ids.subarray(0, Math.max(0, Math.min(ids.length, map.length - offset))), offset);
    offset += ids.length;
  }
  return map;
}

function commitSync(conn: SqliteConnection, uid: string, committed: BlockMap, pages: Page[]): void {
  const invalid = invalidRefIdsSync(conn);
  const valid = invalid.size === 0 || !committed.some((id) => invalid.has(id));
  const pageIds = storePages(conn, pages);
  // Blobs this run claimed or wrote that its final map does not use (the source changed between a killed
  // run and its continuation, say) would otherwise be found by nothing but `cleanup --full`.
  const unused = conn.stmt(
    "SELECT c.ref_id FROM claims c JOIN blobs b ON b.id = c.ref_id WHERE c.version_uid = ? AND b.refs <= 0",
  ).all(uid) as { ref_id: number }[];
  conn.stmt("DELETE FROM claims WHERE version_uid = ?").run(uid);
  recordDeleteCandidates(conn, unused.map((claim) => claim.ref_id));
  const { changes } = conn.stmt(
    "UPDATE versions SET pages = ?, draft = NULL, valid = ? WHERE uid = ? AND draft IS NOT NULL",
  ).run(pageIds, valid ? 1 : 0, uid);
  if (Number(changes) !== 1) throw new Error(`commitVersion: version ${uid} is not in progress`);
}

/**
 * Stores a block map's pages as shared pages (new pages count their references, known pages one more user);
 * returns the packed page ids for `versions.pages`. Runs inside a transaction.
 */
export function storePages(conn: SqliteConnection, pages: Page[]): Uint8Array {
  const pageIds: number[] = [];
  const added = new Map<number, number>();
  for (const page of pages) {
    const existing = conn.stmt("SELECT id FROM pages WHERE hash = ?").get(page.hash) as { id: number } | undefined;
    if (existing) {
      conn.stmt("UPDATE pages SET users = users + 1 WHERE id = ?").run(existing.id);
      pageIds.push(existing.id);
      continue;
    }
    const result = conn.stmt("INSERT INTO pages (hash, ids, users) VALUES (?, ?, 1)").run(page.hash, page.bytes);
    pageIds.push(Number(result.lastInsertRowid));
    countIds(page.ids, added);
  }
  adjustRefs(conn, added, 1);
  return packIds(Uint32Array.from(pageIds));
}

/**
 * Drops one user of each of these pages (a removed version's); pages nobody uses any more go, and the
 * references they counted are released. Returns how often each reference was released and how many blocks
 * the pages recorded.
 */
export function releasePages(
  conn: SqliteConnection,
  pageIds: Uint32Array,
): { released: Map<number, number>; blocks: number } {
  const released = new Map<number, number>();
  let blocks = 0;
  for (const pageId of pageIds) {
    const page = conn.stmt("SELECT ids, users FROM pages WHERE id = ?").get(pageId) as {
      ids: Uint8Array;
      users: number;
    };
    const ids = unpackIds(page.ids);
    for (const id of ids) if (id !== 0) blocks++;
    if (page.users > 1) {
      conn.stmt("UPDATE pages SET users = users - 1 WHERE id = ?").run(pageId);
      continue;
    }
    conn.stmt("DELETE FROM pages WHERE id = ?").run(pageId);
    for (const id of ids) if (id !== 0) released.set(id, (released.get(id) ?? 0) + 1);
  }
  adjustRefs(conn, released, -1);
  return { released, blocks };
}

function adjustRefs(conn: SqliteConnection, counts: Map<number, number>, sign: 1 | -1): void {
  const update = conn.stmt("UPDATE blobs SET refs = refs + ? WHERE id = ?");
  for (const [id, count] of counts) update.run(sign * count, id);
}

/** Reference ids in the draft block maps of in-progress versions. */
export function draftRefIds(conn: SqliteConnection): Set<number> {
  const ids = new Set<number>();
  const drafts = conn.stmt("SELECT draft FROM versions WHERE draft IS NOT NULL").all() as { draft: Uint8Array }[];
  for (const row of drafts) for (const id of unpackIds(row.draft)) if (id !== 0) ids.add(id);
  return ids;
}

/** Uids of the versions whose block map (committed or draft) contains any of these reference ids. */
export function versionsUsing(conn: SqliteConnection, ids: Set<number>): string[] {
  const pagesWith = new Set<number>();
  for (const page of conn.stmt("SELECT id, ids FROM pages").iterate() as Iterable<{ id: number; ids: Uint8Array }>) {
    if (unpackIds(page.ids).some((id) => ids.has(id))) pagesWith.add(page.id);
  }
  const rows = conn.stmt("SELECT uid, pages, draft FROM versions ORDER BY name, date").all() as {
    uid: string;
    pages: Uint8Array | null;
    draft: Uint8Array | null;
  }[];
  return rows.filter((row) =>
    (row.pages && unpackIds(row.pages).some((id) => pagesWith.has(id))) ||
    (row.draft && unpackIds(row.draft).some((id) => ids.has(id)))
  ).map((row) => row.uid);
}

function referenceCountsSync(conn: SqliteConnection): Map<number, number> {
  const counts = new Map<number, number>();
  const add = (ids: Uint32Array, times: number) => {
    for (const id of ids) if (id !== 0) counts.set(id, (counts.get(id) ?? 0) + times);
  };
  const pages = conn.stmt("SELECT ids, users FROM pages").iterate() as Iterable<{ ids: Uint8Array; users: number }>;
  for (const page of pages) add(unpackIds(page.ids), page.users);
  const drafts = conn.stmt("SELECT draft FROM versions WHERE draft IS NOT NULL").iterate() as Iterable<
    { draft: Uint8Array }
  >;
  for (const row of drafts) add(unpackIds(row.draft), 1);
  return counts;
}
