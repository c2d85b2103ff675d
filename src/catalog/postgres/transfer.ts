/**
 * PostgreSQL imports and exports of whole versions (`import`, `export`, `migrate-catalog`). An import looks
 * up and inserts its references in bulk (one statement per 20,000 references), so a version of a million
 * blocks costs a handful of round trips.
 */
import type { BlockMap, BlockRecord, ImportedVersion, NewBlobRef, TransferRole } from "../catalog.ts";
import { now } from "../../util/clock.ts";
import { toPages } from "../block_pages.ts";
import { blockRecords } from "../block_records.ts";
import { checkBlockId, versionExists } from "../import_checks.ts";
import { run, type Runner } from "./connect.ts";
import { chunks, jsonRows, type PgScope } from "./scope.ts";
import { insertRefs, newRefIds, refsOf, sparseRef } from "./blobs.ts";
import { bytes, readBlockMap, storePages } from "./block_maps.ts";
import { getVersion } from "./versions.ts";

const CHUNK = 20000;

export function transferRole(scope: PgScope): TransferRole {
  return {
    importVersion: (version, blocks) =>
      scope.write(async (sql) => {
        const [exists] = await run(sql, "SELECT 1 FROM versions WHERE uid = $1", [version.uid]);
        if (exists) throw versionExists(version.uid);
        const pages = await toPages(await importedMap(sql, version, blocks));
        await insertVersion(sql, version, await storePages(sql, pages));
        const dates = blocks.filter((block) => block.date !== version.date).map((b) => ({ id: b.id, date: b.date }));
        for (const chunk of chunks(dates, CHUNK)) {
          await run(
            sql,
            "INSERT INTO block_dates (version_uid, id, date) SELECT $1, id, date " +
              "FROM jsonb_to_recordset($2::jsonb) AS r(id int, date text)",
            [version.uid, jsonRows(chunk)],
          );
        }
        await run(sql, "INSERT INTO tags (version_uid, name) SELECT $1, unnest($2::text[]) ON CONFLICT DO NOTHING", [
          version.uid,
          version.tags,
        ]);
      }),
    exportBlocks: (uid) => scope.read((sql) => exportBlocks(sql, uid)),
    blockDates: (uid) =>
      scope.read(async (sql) => {
        await getVersion(sql, uid);
        const rows = await run<{ id: number; date: string }>(
          sql,
          "SELECT id, date FROM block_dates WHERE version_uid = $1 ORDER BY id",
          [uid],
        );
        return rows.map((row) => [row.id, row.date]);
      }),
  };
}

async function insertVersion(sql: Runner, version: ImportedVersion, pageIds: Uint8Array): Promise<void> {
  await run(
    sql,
    "INSERT INTO versions (uid, date, expire, name, snapshot_name, size, size_bytes, valid, protected, pages, " +
      "draft, block_size, hash_function) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, NULL, $11, $12)",
    [
      version.uid,
      version.date,
      version.expire,
      version.name,
      version.snapshotName,
      version.size,
      version.sizeBytes,
      version.valid,
      version.protected,
      bytes(pageIds),
      version.blockSize ?? null,
      version.hashFunction ?? null,
    ],
  );
}

type RefKey = NewBlobRef & { valid: boolean };

/** The block map of an imported version, with the references its blocks name found or created in bulk. */
async function importedMap(sql: Runner, version: ImportedVersion, blocks: BlockRecord[]): Promise<BlockMap> {
  const map = new Uint32Array(version.size);
  const keys = new Map<string, { ref: RefKey; blocks: number[] }>();
  const sparse = new Map<number, number[]>();
  for (const block of blocks) {
    checkBlockId(version, map, block.id);
    map[block.id] = 0xffffffff; // taken; the reference id follows
    if (block.uid === null) {
      sparse.set(block.size, [...(sparse.get(block.size) ?? []), block.id]);
      continue;
    }
    const { id: _, date: __, ...ref } = block;
    const key = JSON.stringify([
      ref.uid,
      ref.checksum,
      ref.size,
      ref.valid,
      ref.encVersion,
      ref.encEnvkey,
      ref.encNonce,
    ]);
    const entry = keys.get(key);
    if (entry) entry.blocks.push(block.id);
    else keys.set(key, { ref, blocks: [block.id] });
  }
  for (const [size, ids] of sparse) {
    const id = await sparseRef(sql, size);
    for (const block of ids) map[block] = id;
  }
  const entries = [...keys.values()];
  const found = await existingRefs(sql, entries.map((entry) => entry.ref));
  const missing = entries.filter((_, i) => found[i] === undefined);
  const newIds = await newRefIds(sql, missing.length);
  await insertRefs(
    sql,
    missing.map((entry, i) => ({ ...entry.ref, id: newIds[i] })),
    Math.floor(now().getTime() / 1000),
  );
  let next = 0;
  entries.forEach((entry, i) => {
    const id = found[i] ?? newIds[next++];
    for (const block of entry.blocks) map[block] = id;
  });
  return map;
}

/** For each reference, the id of one with exactly its fields, if the catalog has one. */
async function existingRefs(sql: Runner, refs: RefKey[]): Promise<(number | undefined)[]> {
  const found: (number | undefined)[] = refs.map(() => undefined);
  for (let start = 0; start < refs.length; start += CHUNK) {
    const rows = refs.slice(start, start + CHUNK).map((ref, i) => ({
      i: start + i,
      uid: ref.uid,
      checksum: ref.checksum,
      size: ref.size,
      valid: ref.valid,
      enc_version: ref.encVersion,
      enc_envkey: ref.encEnvkey,
      enc_nonce: ref.encNonce,
    }));
    const matches = await run<{ i: number; id: number }>(
      sql,
      "SELECT k.i, m.id FROM jsonb_to_recordset($1::jsonb) AS k(i int, uid text, checksum text, size bigint, " +
        "valid boolean, enc_version int, enc_envkey text, enc_nonce text) " +
        "CROSS JOIN LATERAL (SELECT id FROM blobs b WHERE b.uid = k.uid AND b.checksum IS NOT DISTINCT FROM k.checksum " +
        "AND b.size = k.size AND b.valid = k.valid AND b.enc_version = k.enc_version " +
        "AND b.enc_envkey IS NOT DISTINCT FROM k.enc_envkey AND b.enc_nonce IS NOT DISTINCT FROM k.enc_nonce " +
        "ORDER BY id LIMIT 1) AS m",
      [jsonRows(rows)],
    );
    for (const match of matches) found[match.i] = match.id;
  }
  return found;
}

async function exportBlocks(sql: Runner, uid: string): Promise<BlockRecord[]> {
  const version = await getVersion(sql, uid);
  const map = await readBlockMap(sql, uid);
  const refs = await refsOf(sql, new Set(map.filter((id) => id !== 0)));
  const dates = new Map(
    (await run<{ id: number; date: string }>(sql, "SELECT id, date FROM block_dates WHERE version_uid = $1", [uid]))
      .map((row) => [row.id, row.date]),
  );
  return blockRecords(map, refs, dates, version.date);
}
