/**
 * SQLite stats rows (backy2's `stats` table) and the catalog-wide stored bytes.
 */
import type { BackupStats, StatsRole } from "../catalog.ts";
import { catalogTime, now } from "../../util/clock.ts";
import type { SqliteConnection, SqliteScope } from "./scope.ts";
import { STATS_COLUMNS, type StatsDbRow, toStats } from "../rows.ts";

export function statsRole(scope: SqliteScope): StatsRole {
  return {
    insertStats: (stats) => scope.write((conn) => writeStats(conn, catalogTime(now()).slice(0, 19), stats)),
    importStats: (rows) =>
      scope.write((conn) => {
        for (const row of rows) writeStats(conn, row.date, row);
      }),
    listStats: ({ versionUid, limit }) =>
      scope.read((conn) => {
        if (limit !== undefined && limit < 1) return [];
        if (versionUid !== undefined) {
          const rows = conn.stmt(`SELECT ${STATS_COLUMNS} FROM stats WHERE version_uid = ? ORDER BY id`).all(
            versionUid,
          ) as unknown as StatsDbRow[];
          return rows.map(toStats);
        }
        const rows = conn.stmt(`SELECT ${STATS_COLUMNS} FROM stats ORDER BY date DESC, id ASC LIMIT ?`).all(
          limit ?? -1,
        ) as unknown as StatsDbRow[];
        return rows.map(toStats).reverse();
      }),
    storeBytes: () =>
      scope.read((conn) => {
        const row = conn.stmt(
          "SELECT COALESCE(SUM(size), 0) AS bytes FROM " +
            "(SELECT MAX(size) AS size FROM blobs WHERE uid IS NOT NULL GROUP BY uid)",
        ).get() as { bytes: number };
        return Number(row.bytes);
      }),
  };
}

function writeStats(conn: SqliteConnection, date: string, s: BackupStats): void {
  conn.stmt(
    "INSERT INTO stats (date, version_uid, version_name, version_size_bytes, version_size_blocks, bytes_read, " +
      "blocks_read, bytes_written, blocks_written, bytes_found_dedup, blocks_found_dedup, bytes_sparse, " +
      "blocks_sparse, duration_seconds, bytes_stored) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
  ).run(
    date,
    s.versionUid,
    s.versionName,
    s.versionSizeBytes,
    s.versionSizeBlocks,
    s.bytesRead,
    s.blocksRead,
    s.bytesWritten,
    s.blocksWritten,
    s.bytesFoundDedup,
    s.blocksFoundDedup,
    s.bytesSparse,
    s.blocksSparse,
    s.durationSeconds,
    s.bytesStored ?? null,
  );
}
