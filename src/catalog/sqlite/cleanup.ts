/**
 * The SQLite cleanup queue: delete candidates (backy2's `deleted_blocks`), which blobs are in use, and the
 * catalog side of fast and full cleanups.
 */
import type { CleanupRole } from "../catalog.ts";
import { now } from "../../util/clock.ts";
import type { SqliteConnection, SqliteScope } from "./scope.ts";
import { refsSync } from "./blobs.ts";
import { draftRefIds } from "./block_maps.ts";

export function cleanupRole(scope: SqliteScope): CleanupRole {
  return {
    takeDeleteCandidates: (cutoff) => scope.write((conn) => takeCandidatesSync(conn, cutoff), { durable: true }),
    forgetDeleted: (uids) =>
      scope.write((conn) => {
        const remove = conn.stmt("DELETE FROM deleted_blocks WHERE uid = ?");
        for (const uid of uids) remove.run(uid);
      }),
    usedBlobUids: (prefix = "") => scope.read((conn) => usedBlobUidsSync(conn, prefix)),
    dropUnusedBlobs: (prefix = "") => scope.write((conn) => dropUnusedSync(conn, prefix), { durable: true }),
  };
}

/** Blobs no committed version uses any more become cleanup candidates (backy2's deleted_blocks). */
export function recordDeleteCandidates(conn: SqliteConnection, ids: Iterable<number>): void {
  const seconds = Math.floor(now().getTime() / 1000);
  const insert = conn.stmt("INSERT INTO deleted_blocks (uid, size, delete_candidate, time) VALUES (?, ?, 0, ?)");
  for (const ref of refsSync(conn, new Set([...ids].filter((id) => id !== 0))).values()) {
    if (ref.uid === null) continue;
    const refs = (conn.stmt("SELECT refs FROM blobs WHERE id = ?").get(ref.id) as { refs: number }).refs;
    if (refs <= 0) insert.run(ref.uid, ref.size, seconds);
  }
}

function takeCandidatesSync(conn: SqliteConnection, cutoff: number): { uid: string; size: number }[] {
  const drafted = draftRefIds(conn);
  const old = conn.stmt("SELECT DISTINCT uid FROM deleted_blocks WHERE time < ? AND uid IS NOT NULL").all(
    cutoff,
  ) as { uid: string }[];
  const falsePositive = conn.stmt("DELETE FROM deleted_blocks WHERE uid = ? AND time < ?");
  const candidates: { uid: string; size: number }[] = [];
  for (const { uid } of old) {
    if (blobInUse(conn, uid, drafted)) {
      falsePositive.run(uid, cutoff);
      continue;
    }
    const ref = conn.stmt("SELECT size FROM blobs WHERE uid = ? LIMIT 1").get(uid) as { size: number } | undefined;
    conn.stmt("DELETE FROM blobs WHERE uid = ?").run(uid);
    candidates.push({ uid, size: ref?.size ?? 0 });
  }
  return candidates;
}

/**
 * Whether a committed version, a claim or an in-progress block map uses blob `uid` through any of its
 * references (one indexed query per candidate, so a cleanup costs what it deletes, not the catalog's size).
 */
function blobInUse(conn: SqliteConnection, uid: string, drafted: Set<number>): boolean {
  const rows = conn.stmt(
    "SELECT b.id, b.refs > 0 OR EXISTS (SELECT 1 FROM claims c WHERE c.ref_id = b.id) AS used " +
      "FROM blobs b WHERE b.uid = ?",
  ).all(uid) as { id: number; used: number }[];
  return rows.some((row) => row.used === 1 || drafted.has(row.id));
}

function usedBlobUidsSync(conn: SqliteConnection, prefix: string): Set<string> {
  const rows = conn.stmt(
    "SELECT DISTINCT uid FROM blobs b WHERE uid IS NOT NULL AND substr(uid, 1, ?) = ? " +
      "AND (refs > 0 OR EXISTS (SELECT 1 FROM claims c WHERE c.ref_id = b.id))",
  ).all(prefix.length, prefix) as { uid: string }[];
  const used = new Set(rows.map((row) => row.uid));
  for (const ref of refsSync(conn, draftRefIds(conn)).values()) {
    if (ref.uid !== null && ref.uid.startsWith(prefix)) used.add(ref.uid);
  }
  return used;
}

function dropUnusedSync(conn: SqliteConnection, prefix: string): Set<string> {
  const used = usedBlobUidsSync(conn, prefix);
  const known = conn.stmt("SELECT DISTINCT uid FROM blobs WHERE uid IS NOT NULL AND substr(uid, 1, ?) = ?")
    .all(prefix.length, prefix) as { uid: string }[];
  const dropRefs = conn.stmt("DELETE FROM blobs WHERE uid = ?");
  const dropCandidates = conn.stmt("DELETE FROM deleted_blocks WHERE uid = ?");
  for (const { uid } of known) {
    if (used.has(uid)) continue;
    dropRefs.run(uid);
    dropCandidates.run(uid);
  }
  return used;
}
