/**
 * PostgreSQL block maps: drafts in `versions.draft`, committed maps as shared pages counted in `blobs.refs`
 * (as in the SQLite catalog). Pages and reference counts change in bulk statements, with the rows they change
 * locked in id order, so that concurrent commits and removals wait for each other instead of deadlocking.
 */
import type { BlockMap, BlockMapRole } from "../catalog.ts";
import { countIds, packIds, type Page, toPages, unpackIds } from "../block_pages.ts";
import { Buffer } from "node:buffer";
import { versionNotFound } from "../../util/errors.ts";
import { run, type Runner } from "./connect.ts";
import type { PgScope } from "./scope.ts";
import { recordDeleteCandidates } from "./cleanup.ts";

export function blockMapRole(scope: PgScope): BlockMapRole {
  return {
    blockMap: (uid) => scope.read((sql) => readBlockMap(sql, uid)),
    saveDraft: (uid, map) =>
      scope.write(async (sql) => {
        await run(sql, "UPDATE versions SET draft = $1 WHERE uid = $2 AND draft IS NOT NULL", [
          bytes(packIds(map)),
          uid,
        ]);
      }),
    async commitVersion(uid, map) {
      const committed = map.slice();
      if (committed.includes(0)) throw new Error(`commitVersion: version ${uid} has blocks without a reference`);
      const pages = await toPages(committed);
      await scope.write((sql) => commit(sql, uid, committed, pages));
    },
    referenceCounts: () => scope.read(referenceCounts),
  };
}

/** Bytes as the client sends bytea. */
export function bytes(data: Uint8Array): Uint8Array {
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

export async function readBlockMap(sql: Runner, uid: string): Promise<BlockMap> {
  const [row] = await run<{ size: number; pages: Uint8Array | null; draft: Uint8Array | null }>(
    sql,
    "SELECT size, pages, draft FROM versions WHERE uid = $1",
    [uid],
  );
  if (!row) throw versionNotFound(uid);
  const map = new Uint32Array(row.size);
  if (row.draft) {
    const draft = unpackIds(row.draft);
    map.set(draft.subarray(0, Math.min(draft.length, map.length)));
    return map;
  }
  const pageIds = row.pages ? unpackIds(row.pages) : new Uint32Array(0);
  const pages = await pageContents(sql, pageIds);
  let offset = 0;
  for (const pageId of pageIds) {
    const ids = pages.get(pageId)!;
    map.set(ids.subarray(0, Math.max(0, Math.min(ids.length, map.length - offset))), offset);
    offset += ids.length;
  }
  return map;
}

async function pageContents(sql: Runner, pageIds: Iterable<number>): Promise<Map<number, Uint32Array>> {
  const rows = await run<{ id: number; ids: Uint8Array }>(sql, "SELECT id, ids FROM pages WHERE id = ANY($1::int[])", [
    [...new Set(pageIds)],
  ]);
  return new Map(rows.map((row) => [row.id, unpackIds(row.ids)]));
}

async function commit(sql: Runner, uid: string, committed: BlockMap, pages: Page[]): Promise<void> {
  const [version] = await run<{ draft: boolean }>(
    sql,
    "SELECT draft IS NOT NULL AS draft FROM versions WHERE uid = $1 FOR UPDATE",
    [uid],
  );
  if (!version?.draft) throw new Error(`commitVersion: version ${uid} is not in progress`);
  const invalid = new Set((await run<{ id: number }>(sql, "SELECT id FROM blobs WHERE NOT valid")).map((r) => r.id));
  const valid = invalid.size === 0 || !committed.some((id) => invalid.has(id));
  const pageIds = await storePages(sql, pages);
  // Blobs this run claimed or wrote that its final map does not use would otherwise be found by nothing but
  // `cleanup --full`.
  const unused = await run<{ ref_id: number }>(
    sql,
    "DELETE FROM claims c USING blobs b WHERE c.version_uid = $1 AND b.id = c.ref_id AND b.refs <= 0 RETURNING c.ref_id",
    [uid],
  );
  await run(sql, "DELETE FROM claims WHERE version_uid = $1", [uid]);
  await recordDeleteCandidates(sql, unused.map((claim) => claim.ref_id));
  await run(sql, "UPDATE versions SET pages = $1, draft = NULL, valid = $2 WHERE uid = $3", [
    bytes(pageIds),
    valid,
    uid,
  ]);
}

/**
 * Stores a block map's pages as shared pages (new pages count their references, known pages one more user
 * per use); returns the packed page ids for `versions.pages`.
 */
export async function storePages(sql: Runner, pages: Page[]): Promise<Uint8Array> {
  const byHash = new Map<string, { page: Page; uses: number }>();
  const hexOf = (page: Page) => Array.from(page.hash, (b) => b.toString(16).padStart(2, "0")).join("");
  for (const page of pages) {
    const entry = byHash.get(hexOf(page));
    if (entry) entry.uses++;
    else byHash.set(hexOf(page), { page, uses: 1 });
  }
  const entries = [...byHash.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const rows = await run<{ id: number; hash: string; inserted: boolean }>(
    sql,
    "INSERT INTO pages (hash, ids, users) SELECT decode(h, 'hex'), decode(i, 'hex'), n " +
      "FROM unnest($1::text[], $2::text[], $3::int[]) AS p(h, i, n) " +
      "ON CONFLICT (hash) DO UPDATE SET users = pages.users + EXCLUDED.users " +
      "RETURNING id, encode(hash, 'hex') AS hash, xmax = 0 AS inserted",
    [
      entries.map(([hash]) => hash),
      entries.map(([, { page }]) =>
        Buffer.from(page.bytes.buffer, page.bytes.byteOffset, page.bytes.byteLength).toString("hex")
      ),
      entries.map(([, { uses }]) => uses),
    ],
  );
  const idOf = new Map(rows.map((row) => [row.hash, row.id]));
  const added = new Map<number, number>();
  for (const row of rows) if (row.inserted) countIds(byHash.get(row.hash)!.page.ids, added);
  await adjustRefs(sql, added, 1);
  return packIds(Uint32Array.from(pages, (page) => idOf.get(hexOf(page))!));
}

/**
 * Drops this version's uses of its pages; pages nobody uses any more go, and the references they counted are
 * released. Returns the released references (with how often) and the number of recorded blocks.
 */
export async function releasePages(
  sql: Runner,
  pageIds: Uint32Array,
): Promise<{ released: Map<number, number>; blocks: number }> {
  const uses = new Map<number, number>();
  for (const id of pageIds) uses.set(id, (uses.get(id) ?? 0) + 1);
  const contents = await pageContents(sql, uses.keys());
  let blocks = 0;
  for (const id of pageIds) for (const ref of contents.get(id) ?? []) if (ref !== 0) blocks++;
  const ids = [...uses.keys()].sort((a, b) => a - b);
  // Two statements: a row updated in a WITH clause cannot be deleted by the same statement.
  await run(
    sql,
    "UPDATE pages p SET users = p.users - d.n FROM unnest($1::int[], $2::int[]) AS d(id, n) WHERE p.id = d.id",
    [ids, ids.map((id) => uses.get(id)!)],
  );
  const gone = await run<{ id: number }>(
    sql,
    "DELETE FROM pages WHERE id = ANY($1::int[]) AND users <= 0 RETURNING id",
    [ids],
  );
  const released = new Map<number, number>();
  for (const { id } of gone) countIds(contents.get(id)!, released);
  await adjustRefs(sql, released, -1);
  return { released, blocks };
}

async function adjustRefs(sql: Runner, counts: Map<number, number>, sign: 1 | -1): Promise<void> {
  if (counts.size === 0) return;
  const ids = [...counts.keys()].sort((a, b) => a - b);
  await run(sql, "SELECT 1 FROM blobs WHERE id = ANY($1::int[]) ORDER BY id FOR UPDATE", [ids]);
  await run(
    sql,
    "UPDATE blobs b SET refs = b.refs + d.n FROM unnest($1::int[], $2::bigint[]) AS d(id, n) WHERE b.id = d.id",
    [ids, ids.map((id) => sign * counts.get(id)!)],
  );
}

/** Reference ids in the draft block maps of in-progress versions. */
export async function draftRefIds(sql: Runner): Promise<Set<number>> {
  const ids = new Set<number>();
  const drafts = await run<{ draft: Uint8Array }>(sql, "SELECT draft FROM versions WHERE draft IS NOT NULL");
  for (const row of drafts) for (const id of unpackIds(row.draft)) if (id !== 0) ids.add(id);
  return ids;
}

/** Uids of the versions whose block map (committed or draft) contains any of these reference ids. */
export async function versionsUsing(sql: Runner, ids: Set<number>): Promise<string[]> {
  const pagesWith = new Set<number>();
  for (const page of await run<{ id: number; ids: Uint8Array }>(sql, "SELECT id, ids FROM pages")) {
    if (unpackIds(page.ids).some((id) => ids.has(id))) pagesWith.add(page.id);
  }
  const rows = await run<{ uid: string; pages: Uint8Array | null; draft: Uint8Array | null }>(
    sql,
    'SELECT uid, pages, draft FROM versions ORDER BY name COLLATE "C", date COLLATE "C"',
  );
  return rows.filter((row) =>
    (row.pages && unpackIds(row.pages).some((id) => pagesWith.has(id))) ||
    (row.draft && unpackIds(row.draft).some((id) => ids.has(id)))
  ).map((row) => row.uid);
}

async function referenceCounts(sql: Runner): Promise<Map<number, number>> {
  const counts = new Map<number, number>();
  const add = (ids: Uint32Array, times: number) => {
    for (const id of ids) if (id !== 0) counts.set(id, (counts.get(id) ?? 0) + times);
  };
  for (const page of await run<{ ids: Uint8Array; users: number }>(sql, "SELECT ids, users FROM pages")) {
    add(unpackIds(page.ids), page.users);
  }
  for (const row of await run<{ draft: Uint8Array }>(sql, "SELECT draft FROM versions WHERE draft IS NOT NULL")) {
    add(unpackIds(row.draft), 1);
  }
  return counts;
}
