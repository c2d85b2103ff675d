/**
 * SQLite imports and exports of whole versions (`import`, `export`, `migrate-catalog`).
 */
import type { BlockMap, BlockRecord, ImportedVersion, TransferRole } from "../catalog.ts";
import { checkBlockId, versionExists } from "../import_checks.ts";
import { now } from "../../util/clock.ts";
import { toPages } from "../block_pages.ts";
import { blockRecords } from "../block_records.ts";
import type { SqliteConnection, SqliteScope } from "./scope.ts";
import { storedSizeOf } from "../rows.ts";
import { blockMapSync, storePages } from "./block_maps.ts";
import { findSparse, refsSync } from "./blobs.ts";
import { getVersionSync } from "./versions.ts";

export function transferRole(scope: SqliteScope): TransferRole {
  return {
    // The map names references that only this transaction creates, so its pages are hashed inside it.
    importVersion: (version, blocks) =>
      scope.writeAwaiting(async (conn) => {
        if (conn.stmt("SELECT 1 FROM versions WHERE uid = ?").get(version.uid)) throw versionExists(version.uid);
        const pages = await toPages(importedMap(conn, version, blocks));
        insertImported(conn, version, storePages(conn, pages));
        const insertDate = conn.stmt("INSERT INTO block_dates (version_uid, id, date) VALUES (?, ?, ?)");
        for (const block of blocks) if (block.date !== version.date) insertDate.run(version.uid, block.id, block.date);
        const insertTag = conn.stmt("INSERT OR IGNORE INTO tags (version_uid, name) VALUES (?, ?)");
        for (const tag of version.tags) insertTag.run(version.uid, tag);
      }),
    exportBlocks: (uid) => scope.read((conn) => exportBlocksSync(conn, uid)),
    blockDates: (uid) =>
      scope.read((conn) => {
        getVersionSync(conn, uid);
        const rows = conn.stmt("SELECT id, date FROM block_dates WHERE version_uid = ? ORDER BY id").all(uid);
        return (rows as { id: number; date: string }[]).map((row) => [row.id, row.date]);
      }),
  };
}

function insertImported(conn: SqliteConnection, version: ImportedVersion, pageIds: Uint8Array): void {
  conn.stmt(
    "INSERT INTO versions (uid, date, expire, name, snapshot_name, size, size_bytes, valid, protected, pages, " +
      "draft, block_size, hash_function) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, ?, ?)",
  ).run(
    version.uid,
    version.date,
    version.expire,
    version.name,
    version.snapshotName,
    version.size,
    version.sizeBytes,
    version.valid ? 1 : 0,
    version.protected ? 1 : 0,
    pageIds,
    version.blockSize ?? null,
    version.hashFunction ?? null,
  );
}

/** The block map of an imported version, with the references its blocks name found or created. */
function importedMap(conn: SqliteConnection, version: ImportedVersion, blocks: BlockRecord[]): BlockMap {
  const map = new Uint32Array(version.size);
  const known = new Map<string, number>();
  const created = Math.floor(now().getTime() / 1000);
  for (const block of blocks) {
    checkBlockId(version, map, block.id);
    map[block.id] = importedRef(conn, block, known, created);
  }
  return map;
}

/** The reference of an imported block: the sparse one of its size, or one with exactly its fields. */
function importedRef(conn: SqliteConnection, block: BlockRecord, known: Map<string, number>, created: number): number {
  if (block.uid === null) {
    const key = `sparse ${block.size}`;
    let sparse = known.get(key) ?? findSparse(conn, block.size);
    if (sparse === undefined) {
      conn.stmt(
        "INSERT INTO blobs (uid, checksum, size, valid, enc_version, refs, created) VALUES (NULL, NULL, ?, 1, 0, 0, 0)",
      ).run(block.size);
      sparse = findSparse(conn, block.size)!;
    }
    known.set(key, sparse);
    return sparse;
  }
  const fields = [
    block.uid,
    block.checksum,
    block.size,
    block.valid ? 1 : 0,
    block.encVersion,
    block.encEnvkey,
    block.encNonce,
  ] as const;
  const key = fields.map((field) => field ?? "\u0001").join("\u0000");
  let id = known.get(key);
  if (id === undefined) {
    const row = conn.stmt(
      "SELECT id FROM blobs WHERE uid = ? AND checksum IS ? AND size = ? AND valid = ? AND enc_version = ? " +
        "AND enc_envkey IS ? AND enc_nonce IS ? LIMIT 1",
    ).get(...fields) as { id: number } | undefined;
    id = row?.id ?? Number(
      conn.stmt(
        "INSERT INTO blobs (uid, checksum, size, valid, enc_version, enc_envkey, enc_nonce, refs, created, " +
          "stored_size) VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?, ?)",
      ).run(...fields, created, storedSizeOf(block)).lastInsertRowid,
    );
    known.set(key, id);
  }
  return id;
}

function exportBlocksSync(conn: SqliteConnection, uid: string): BlockRecord[] {
  const version = getVersionSync(conn, uid);
  const map = blockMapSync(conn, uid);
  const refs = refsSync(conn, new Set(map.filter((id) => id !== 0)));
  const dates = new Map(
    (conn.stmt("SELECT id, date FROM block_dates WHERE version_uid = ?").all(uid) as { id: number; date: string }[])
      .map((row) => [row.id, row.date]),
  );
  return blockRecords(map, refs, dates, version.date);
}
