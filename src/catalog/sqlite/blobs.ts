/**
 * SQLite blob references: lookups, deduplication with claims, new references, validity.
 */
import type { BlobRef, BlobRole, DedupKey, NewBlobRef } from "../catalog.ts";
import type { SqliteConnection, SqliteScope } from "./scope.ts";
import { BLOB_COLUMNS, type BlobRow, storedSizeOf, toRef } from "../rows.ts";

/** Ids per `IN (...)` list. */
export const LOOKUP_BATCH = 500;
import { versionsUsing } from "./block_maps.ts";

export function blobRole(scope: SqliteScope): BlobRole {
  return {
    refs: (ids) => scope.read((conn) => refsSync(conn, ids)),
    irregularRefs: (blockSize) =>
      scope.read((conn) => {
        const rows = conn.stmt(
          `SELECT ${BLOB_COLUMNS} FROM blobs WHERE uid IS NULL OR valid = 0 OR size != ?`,
        ).all(blockSize) as unknown as BlobRow[];
        return new Map(rows.map((row) => [row.id, toRef(row)]));
      }),
    invalidRefIds: () => scope.read(invalidRefIdsSync),
    findDedup: (wanted, codecs, claimFor) => findDedup(scope, wanted, codecs, claimFor),
    addRefs: (refs, claimFor) => scope.write((conn) => addRefsSync(conn, refs, claimFor)),
    sparseRef: async (size) => {
      const existing = await scope.read((conn) => findSparse(conn, size));
      return existing ?? await scope.write((conn) => {
        conn.stmt(
          "INSERT OR IGNORE INTO blobs (uid, checksum, size, valid, enc_version, refs, created) VALUES " +
            "(NULL, NULL, ?, 1, 0, 0, 0)",
        ).run(size);
        return findSparse(conn, size)!;
      });
    },
    revalidate: (ids) =>
      scope.write((conn) => {
        const update = conn.stmt("UPDATE blobs SET valid = 1 WHERE id = ? AND valid = 0");
        for (const id of ids) update.run(id);
      }),
    invalidate: (uid, checksum) => scope.write((conn) => invalidateSync(conn, uid, checksum)),
  };
}

export function refsSync(conn: SqliteConnection, ids: Iterable<number>): Map<number, BlobRef> {
  const result = new Map<number, BlobRef>();
  const list = [...ids];
  for (let start = 0; start < list.length; start += LOOKUP_BATCH) {
    const batch = list.slice(start, start + LOOKUP_BATCH);
    const sql = `SELECT ${BLOB_COLUMNS} FROM blobs WHERE id IN (${batch.map(() => "?").join(",")})`;
    for (const row of conn.db.prepare(sql).all(...batch) as unknown as BlobRow[]) result.set(row.id, toRef(row));
  }
  return result;
}

export function invalidRefIdsSync(conn: SqliteConnection): Set<number> {
  const rows = conn.stmt("SELECT id FROM blobs WHERE valid = 0").all() as { id: number }[];
  return new Set(rows.map((row) => row.id));
}

export function findSparse(conn: SqliteConnection, size: number): number | undefined {
  const row = conn.stmt("SELECT id FROM blobs WHERE uid IS NULL AND size = ?").get(size) as { id: number } | undefined;
  return row?.id;
}

/**
 * Misses (most lookups of a first backup) take no write lock. The hits are looked up again and claimed in one
 * transaction, so that no cleanup can come between finding a blob and claiming it.
 */
async function findDedup(
  scope: SqliteScope,
  wanted: readonly DedupKey[],
  codecs: readonly number[],
  claimFor: string | undefined,
): Promise<(BlobRef | null)[]> {
  if (codecs.length === 0) return wanted.map(() => null);
  const found = await scope.read((conn) => wanted.map((key) => findOne(conn, key, codecs)));
  if (claimFor === undefined || found.every((ref) => ref === null)) return found;
  return scope.write((conn) => {
    const claim = conn.stmt("INSERT OR IGNORE INTO claims (ref_id, version_uid) VALUES (?, ?)");
    return wanted.map((key, i) => {
      if (found[i] === null) return null;
      const ref = findOne(conn, key, codecs);
      if (ref) claim.run(ref.id, claimFor);
      return ref;
    });
  });
}

function findOne(conn: SqliteConnection, key: DedupKey, codecs: readonly number[]): BlobRef | null {
  const row = conn.stmt(
    `SELECT ${BLOB_COLUMNS} FROM blobs WHERE checksum = ? AND size = ? AND valid = 1 AND uid IS NOT NULL ` +
      `AND enc_version IN (${codecs.map(() => "?").join(", ")}) ORDER BY enc_version = ? DESC, id LIMIT 1`,
  ).get(key.checksum, key.size, ...codecs, codecs[0]) as BlobRow | undefined;
  return row ? toRef(row) : null;
}

function addRefsSync(conn: SqliteConnection, refs: NewBlobRef[], claimFor: string | undefined): number[] {
  const insert = conn.stmt(
    "INSERT INTO blobs (uid, checksum, size, valid, enc_version, enc_envkey, enc_nonce, refs, created, " +
      "stored_size) VALUES (?, ?, ?, 1, ?, ?, ?, 0, ?, ?)",
  );
  const claim = conn.stmt("INSERT OR IGNORE INTO claims (ref_id, version_uid) VALUES (?, ?)");
  const created = Math.floor(Date.now() / 1000);
  return refs.map((ref) => {
    const { lastInsertRowid } = insert.run(
      ref.uid,
      ref.checksum,
      ref.size,
      ref.encVersion,
      ref.encEnvkey,
      ref.encNonce,
      created,
      storedSizeOf(ref),
    );
    if (claimFor !== undefined) claim.run(lastInsertRowid, claimFor);
    return Number(lastInsertRowid);
  });
}

function invalidateSync(conn: SqliteConnection, uid: string, checksum: string | null): string[] {
  const ids = new Set(
    (conn.stmt("SELECT id FROM blobs WHERE uid = ? AND checksum IS ?").all(uid, checksum) as { id: number }[])
      .map((r) => r.id),
  );
  if (ids.size === 0) return [];
  conn.stmt("UPDATE blobs SET valid = 0 WHERE uid = ? AND checksum IS ?").run(uid, checksum);
  const affected = versionsUsing(conn, ids);
  const update = conn.stmt("UPDATE versions SET valid = 0 WHERE uid = ?");
  for (const versionUid of affected) update.run(versionUid);
  return affected;
}
