/**
 * What `migrate-catalog` reads from: a backy2 2.13.8 catalog in an SQLite file or a PostgreSQL database, or a
 * catalog of this tool in an SQLite file (to move it into PostgreSQL). Each gives finished versions with their
 * blocks, and the stats rows.
 */
import { DatabaseSync } from "node:sqlite";
import type { BlockRecord, Catalog, ImportedVersion, StatsRow } from "./catalog.ts";
import { Backy2Catalog, type Backy2Tables, type Row, sqliteUrlPath } from "./backy2_catalog.ts";
import { isPostgresUrl } from "./open_catalog.ts";
import { openSqliteCatalog } from "./sqlite/catalog.ts";

export interface MigrationSource {
  /** Every finished version, oldest first. */
  versions(): Promise<ImportedVersion[]>;
  blocks(version: ImportedVersion, blockSize: number): Promise<BlockRecord[]>;
  stats(): Promise<StatsRow[]>;
  close(): Promise<void>;
}

export async function openMigrationSource(engine: string): Promise<MigrationSource> {
  if (isPostgresUrl(engine)) return await Backy2Catalog.read(await postgresTables(engine), engine);
  const path = sqliteUrlPath(engine);
  return isOurs(path)
    ? ourCatalog(openSqliteCatalog(path, { engine, create: false }))
    : await Backy2Catalog.open(path, engine);
}

/** Whether the SQLite file is a catalog of this tool (it has `meta` and `blobs`). */
function isOurs(path: string): boolean {
  let db: DatabaseSync | null = null;
  try {
    db = new DatabaseSync(path, { readOnly: true });
    const tables = new Set(
      (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as Row[]).map((row) => row.name),
    );
    return tables.has("meta") && tables.has("blobs");
  } catch {
    return false;
  } finally {
    db?.close();
  }
}

/** A catalog of this tool as a source: its finished versions (in-progress ones cannot move). */
function ourCatalog(catalog: Catalog): MigrationSource {
  return {
    versions: async () =>
      (await catalog.listVersions())
        .filter((version) => !version.inProgress)
        .sort((a, b) => (a.date < b.date ? -1 : a.date > b.date ? 1 : a.uid < b.uid ? -1 : 1))
        .map(({ inProgress: _, ...version }) => version),
    blocks: (version) => catalog.exportBlocks(version.uid),
    stats: async () => insertionOrder(await catalog.listStats({})),
    close: () => catalog.close(),
  };
}

/**
 * Stats rows in the order they were written: listings put rows of the same second in reverse order (as
 * backy2 prints them), so each such run is turned around again.
 */
function insertionOrder(rows: StatsRow[]): StatsRow[] {
  const ordered: StatsRow[] = [];
  for (let start = 0; start < rows.length;) {
    let end = start + 1;
    while (end < rows.length && rows[end].date === rows[start].date) end++;
    ordered.push(...rows.slice(start, end).reverse());
    start = end;
  }
  return ordered;
}

/** A backy2 PostgreSQL catalog as {@link Backy2Tables} (its client is loaded only here). */
async function postgresTables(engine: string): Promise<Backy2Tables> {
  const { parsePgUrl } = await import("./postgres/url.ts");
  const { connect, run } = await import("./postgres/connect.ts");
  const sql = await connect(parsePgUrl(engine), 1);
  const numbered = (text: string) => {
    let n = 0;
    return text.replace(/\?/g, () => `$${++n}`);
  };
  return {
    columns: async () => {
      const rows = await run<{ table_name: string; column_name: string }>(
        sql,
        "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = current_schema()",
      );
      const columns = new Map<string, Set<string>>();
      for (const row of rows) {
        columns.set(row.table_name, (columns.get(row.table_name) ?? new Set()).add(row.column_name));
      }
      return columns;
    },
    all: (text, params = []) => run<Row>(sql, numbered(text), params),
    dateText: (column) => `to_char(${column}, 'YYYY-MM-DD HH24:MI:SS.US')`,
    statsOrder: "id",
    close: () => sql.end({ timeout: 5 }),
  };
}
