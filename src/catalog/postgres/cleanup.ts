/**
 * The PostgreSQL cleanup queue: delete candidates, which blobs are in use, and the catalog side of fast and
 * full cleanups. A fast cleanup locks the rows of its candidates' blobs (FOR UPDATE, in id order) before it
 * checks claims, reference counts and drafts, so a backup claiming one of them at the same time either comes
 * first (and the blob stays) or finds nothing (see blobs.ts).
 */
import type { CleanupRole } from "../catalog.ts";
import { now } from "../../util/clock.ts";
import { run, type Runner } from "./connect.ts";
import type { PgScope } from "./scope.ts";
import { refsOf } from "./blobs.ts";
import { draftRefIds } from "./block_maps.ts";

export function cleanupRole(scope: PgScope): CleanupRole {
  return {
    takeDeleteCandidates: (cutoff) => scope.write((sql) => takeCandidates(sql, cutoff)),
    forgetDeleted: (uids) =>
      scope.write(async (sql) => {
        await run(sql, "DELETE FROM deleted_blocks WHERE uid = ANY($1::text[])", [uids]);
      }),
    usedBlobUids: (prefix = "") => scope.read((sql) => usedBlobUids(sql, prefix)),
    dropUnusedBlobs: (prefix = "") =>
      scope.write(async (sql) => {
        const used = await usedBlobUids(sql, prefix);
        const dropped = await run<{ uid: string }>(
          sql,
          "DELETE FROM blobs WHERE uid IS NOT NULL AND starts_with(uid, $1) AND NOT (uid = ANY($2::text[])) RETURNING uid",
          [prefix, [...used]],
        );
        await run(sql, "DELETE FROM deleted_blocks WHERE uid = ANY($1::text[])", [dropped.map((row) => row.uid)]);
        return used;
      }),
  };
}

/** Blobs no committed version uses any more become cleanup candidates (backy2's deleted_blocks). */
export async function recordDeleteCandidates(sql: Runner, ids: Iterable<number>): Promise<void> {
  const list = [...new Set(ids)].filter((id) => id !== 0);
  if (list.length === 0) return;
  await run(
    sql,
    "INSERT INTO deleted_blocks (uid, size, delete_candidate, time) " +
      "SELECT uid, size, 0, $2 FROM blobs WHERE id = ANY($1::int[]) AND uid IS NOT NULL AND refs <= 0",
    [list, Math.floor(now().getTime() / 1000)],
  );
}

async function takeCandidates(sql: Runner, cutoff: number): Promise<{ uid: string; size: number }[]> {
  const old = (await run<{ uid: string }>(
    sql,
    "SELECT DISTINCT uid FROM deleted_blocks WHERE time < $1 AND uid IS NOT NULL",
    [cutoff],
  )).map((row) => row.uid);
  if (old.length === 0) return [];
  const blobs = await run<{ id: number; uid: string; size: number; refs: number }>(
    sql,
    "SELECT id, uid, size, refs FROM blobs WHERE uid = ANY($1::text[]) ORDER BY id FOR UPDATE",
    [old],
  );
  const claimed = new Set(
    (await run<{ ref_id: number }>(sql, "SELECT DISTINCT ref_id FROM claims WHERE ref_id = ANY($1::int[])", [
      blobs.map((blob) => blob.id),
    ])).map((row) => row.ref_id),
  );
  const drafted = await draftRefIds(sql);
  const inUse = new Set(
    blobs.filter((blob) => blob.refs > 0 || claimed.has(blob.id) || drafted.has(blob.id)).map((blob) => blob.uid),
  );
  const free = old.filter((uid) => !inUse.has(uid));
  await run(sql, "DELETE FROM deleted_blocks WHERE uid = ANY($1::text[]) AND time < $2", [[...inUse], cutoff]);
  const sizes = new Map(blobs.map((blob) => [blob.uid, blob.size]));
  await run(sql, "DELETE FROM blobs WHERE uid = ANY($1::text[])", [free]);
  return free.map((uid) => ({ uid, size: sizes.get(uid) ?? 0 }));
}

async function usedBlobUids(sql: Runner, prefix: string): Promise<Set<string>> {
  const rows = await run<{ uid: string }>(
    sql,
    "SELECT DISTINCT uid FROM blobs b WHERE uid IS NOT NULL AND starts_with(uid, $1) " +
      "AND (refs > 0 OR EXISTS (SELECT 1 FROM claims c WHERE c.ref_id = b.id))",
    [prefix],
  );
  const used = new Set(rows.map((row) => row.uid));
  for (const ref of (await refsOf(sql, await draftRefIds(sql))).values()) {
    if (ref.uid !== null && ref.uid.startsWith(prefix)) used.add(ref.uid);
  }
  return used;
}
