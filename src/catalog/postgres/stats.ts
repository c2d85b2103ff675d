/**
 * PostgreSQL stats rows (backy2's `stats` table) and the catalog-wide stored bytes.
 */
import type { BackupStats, StatsRole, StatsRow } from "../catalog.ts";
import { catalogTime, now } from "../../util/clock.ts";
import { run, type Runner } from "./connect.ts";
import { jsonRows, type PgScope } from "./scope.ts";
import { STATS_FIELDS, type StatsDbRow, toStats } from "../rows.ts";

const COLUMNS = STATS_FIELDS.map(([column]) => column).join(", ");

export function statsRole(scope: PgScope): StatsRole {
  return {
    insertStats: (stats) =>
      scope.write((sql) => insertStats(sql, [{ ...stats, date: catalogTime(now()).slice(0, 19) }])),
    importStats: (rows) => scope.write((sql) => insertStats(sql, rows)),
    listStats: ({ versionUid, limit }) =>
      scope.read(async (sql) => {
        if (limit !== undefined && limit < 1) return [];
        if (versionUid !== undefined) {
          return (await run<StatsDbRow>(sql, `SELECT ${COLUMNS} FROM stats WHERE version_uid = $1 ORDER BY id`, [
            versionUid,
          ])).map(toStats);
        }
        const rows = await run<StatsDbRow>(
          sql,
          `SELECT ${COLUMNS} FROM stats ORDER BY date COLLATE "C" DESC, id ASC LIMIT $1`,
          [limit ?? null],
        );
        return rows.map(toStats).reverse();
      }),
    storeBytes: () =>
      scope.read(async (sql) => {
        const [row] = await run<{ bytes: number }>(
          sql,
          "SELECT COALESCE(SUM(size), 0)::bigint AS bytes FROM " +
            "(SELECT MAX(size) AS size FROM blobs WHERE uid IS NOT NULL GROUP BY uid) AS s",
        );
        return Number(row.bytes);
      }),
  };
}

async function insertStats(sql: Runner, rows: (BackupStats & { date: string })[]): Promise<void> {
  if (rows.length === 0) return;
  const records = rows.map((row, o) => ({
    o,
    ...Object.fromEntries(STATS_FIELDS.map(([column, field]) => [column, (row as StatsRow)[field] ?? null])),
  }));
  const types = STATS_FIELDS.map(([column]) => `${column} ${/date|uid|name/.test(column) ? "text" : "bigint"}`);
  await run(
    sql,
    `INSERT INTO stats (${COLUMNS}) SELECT ${COLUMNS} FROM jsonb_to_recordset($1::jsonb) ` +
      `AS r(o int, ${types.join(", ")}) ORDER BY o`,
    [jsonRows(records)],
  );
}
