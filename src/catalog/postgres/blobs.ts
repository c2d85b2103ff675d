/**
 * PostgreSQL blob references: lookups, deduplication with claims, new references, validity.
 *
 * A deduplication window is one statement: it finds a blob for every wanted content, locks the rows it
 * found (FOR KEY SHARE) and claims them for the running version. A fast cleanup locks the rows of its
 * candidates FOR UPDATE before it looks for claims, so either the claim is there when the cleanup looks, or
 * the cleanup deleted the row first and the lookup does not find it: never a claim on a deleted blob.
 */
import type { BlobRef, BlobRole, DedupKey, NewBlobRef } from "../catalog.ts";
import { run, type Runner } from "./connect.ts";
import { chunks, jsonRows, type PgScope } from "./scope.ts";
import { BLOB_COLUMNS, type BlobRow, storedSizeOf, toRef } from "../rows.ts";
import { versionsUsing } from "./block_maps.ts";

const LOOKUP_CHUNK = 20000;

export function blobRole(scope: PgScope): BlobRole {
  return {
    refs: (ids) => scope.read((sql) => refsOf(sql, ids)),
    irregularRefs: (blockSize) =>
      scope.read(async (sql) => {
        const rows = await run<BlobRow>(
          sql,
          `SELECT ${BLOB_COLUMNS} FROM blobs WHERE uid IS NULL OR NOT valid OR size != $1`,
          [blockSize],
        );
        return new Map(rows.map((row) => [row.id, toRef(row)]));
      }),
    invalidRefIds: () =>
      scope.read(async (sql) =>
        new Set((await run<{ id: number }>(sql, "SELECT id FROM blobs WHERE NOT valid")).map((row) => row.id))
      ),
    findDedup: (wanted, codecs, claimFor) => scope.locking((sql) => findDedup(sql, wanted, codecs, claimFor)),
    addRefs: (refs, claimFor) => scope.write((sql) => addRefs(sql, refs, claimFor)),
    sparseRef: (size) => scope.write((sql) => sparseRef(sql, size)),
    revalidate: (ids) =>
      scope.write(async (sql) => {
        await run(sql, "UPDATE blobs SET valid = true WHERE id = ANY($1::int[]) AND NOT valid", [[...ids]]);
      }),
    invalidate: (uid, checksum) =>
      scope.write(async (sql) => {
        const rows = await run<{ id: number }>(
          sql,
          "UPDATE blobs SET valid = false WHERE uid = $1 AND checksum IS NOT DISTINCT FROM $2 RETURNING id",
          [uid, checksum],
        );
        if (rows.length === 0) return [];
        const affected = await versionsUsing(sql, new Set(rows.map((row) => row.id)));
        await run(sql, "UPDATE versions SET valid = false WHERE uid = ANY($1::text[])", [affected]);
        return affected;
      }),
  };
}

export async function refsOf(sql: Runner, ids: Iterable<number>): Promise<Map<number, BlobRef>> {
  const result = new Map<number, BlobRef>();
  for (const chunk of chunks([...ids], LOOKUP_CHUNK)) {
    const rows = await run<BlobRow>(sql, `SELECT ${BLOB_COLUMNS} FROM blobs WHERE id = ANY($1::int[])`, [chunk]);
    for (const row of rows) result.set(row.id, toRef(row));
  }
  return result;
}

async function findDedup(
  sql: Runner,
  wanted: readonly DedupKey[],
  codecs: readonly number[],
  claimFor: string | undefined,
): Promise<(BlobRef | null)[]> {
  if (codecs.length === 0 || wanted.length === 0) return wanted.map(() => null);
  const keys = jsonRows(wanted.map((key, i) => ({ i, checksum: key.checksum, size: key.size })));
  const candidates =
    "WITH w AS (SELECT * FROM jsonb_to_recordset($1::jsonb) AS w(i int, checksum text, size bigint)), " +
    "c AS (SELECT DISTINCT ON (w.i) w.i, b.id FROM w JOIN blobs b ON b.checksum = w.checksum AND b.size = w.size " +
    "AND b.valid AND b.uid IS NOT NULL AND b.enc_version = ANY($2::int[]) " +
    "ORDER BY w.i, (b.enc_version = $3) DESC, b.id)";
  const rows = claimFor === undefined
    ? await run<BlobRow & { i: number }>(
      sql,
      `${candidates} SELECT c.i, ${prefixed("b")} FROM c JOIN blobs b ON b.id = c.id`,
      [keys, [...codecs], codecs[0]],
    )
    : await run<BlobRow & { i: number }>(
      sql,
      `${candidates}, l AS (SELECT ${BLOB_COLUMNS} FROM blobs WHERE id IN (SELECT id FROM c) AND valid ` +
        "ORDER BY id FOR KEY SHARE), " +
        "k AS (INSERT INTO claims (ref_id, version_uid) SELECT id, $4 FROM l ON CONFLICT DO NOTHING) " +
        `SELECT c.i, ${prefixed("l")} FROM c JOIN l ON l.id = c.id`,
      [keys, [...codecs], codecs[0], claimFor],
    );
  const found: (BlobRef | null)[] = wanted.map(() => null);
  for (const row of rows) found[row.i] = toRef(row);
  return found;
}

function prefixed(table: string): string {
  return BLOB_COLUMNS.split(", ").map((column) => `${table}.${column}`).join(", ");
}

/** Reference ids taken from the sequence in advance, so that rows inserted in bulk map back to them. */
export async function newRefIds(sql: Runner, count: number): Promise<number[]> {
  if (count === 0) return [];
  const rows = await run<{ id: number }>(
    sql,
    "SELECT nextval(pg_get_serial_sequence('blobs', 'id'))::int AS id FROM generate_series(1, $1)",
    [count],
  );
  return rows.map((row) => row.id);
}

/** Inserts references with the given ids (valid unless `valid` says otherwise). */
export async function insertRefs(
  sql: Runner,
  refs: (NewBlobRef & { id: number; valid?: boolean })[],
  created: number,
): Promise<void> {
  for (const chunk of chunks(refs, LOOKUP_CHUNK)) {
    const rows = chunk.map((ref) => ({
      id: ref.id,
      uid: ref.uid,
      checksum: ref.checksum,
      size: ref.size,
      valid: ref.valid ?? true,
      enc_version: ref.encVersion,
      enc_envkey: ref.encEnvkey,
      enc_nonce: ref.encNonce,
      stored_size: storedSizeOf(ref),
    }));
    await run(
      sql,
      "INSERT INTO blobs (id, uid, checksum, size, valid, enc_version, enc_envkey, enc_nonce, stored_size, refs, created) " +
        "SELECT id, uid, checksum, size, valid, enc_version, enc_envkey, enc_nonce, stored_size, 0, $2 " +
        "FROM jsonb_to_recordset($1::jsonb) AS r(id int, uid text, checksum text, size bigint, valid boolean, " +
        "enc_version int, enc_envkey text, enc_nonce text, stored_size bigint)",
      [jsonRows(rows), created],
    );
  }
}

async function addRefs(sql: Runner, refs: NewBlobRef[], claimFor: string | undefined): Promise<number[]> {
  const ids = await newRefIds(sql, refs.length);
  await insertRefs(sql, refs.map((ref, i) => ({ ...ref, id: ids[i] })), Math.floor(Date.now() / 1000));
  if (claimFor !== undefined && ids.length > 0) {
    await run(
      sql,
      "INSERT INTO claims (ref_id, version_uid) SELECT unnest($1::int[]), $2 ON CONFLICT DO NOTHING",
      [ids, claimFor],
    );
  }
  return ids;
}

export async function sparseRef(sql: Runner, size: number): Promise<number> {
  await run(
    sql,
    "INSERT INTO blobs (uid, checksum, size, valid, enc_version, refs, created) VALUES (NULL, NULL, $1, true, 0, 0, 0) " +
      "ON CONFLICT (size) WHERE uid IS NULL DO NOTHING",
    [size],
  );
  const [row] = await run<{ id: number }>(sql, "SELECT id FROM blobs WHERE uid IS NULL AND size = $1", [size]);
  return row.id;
}
