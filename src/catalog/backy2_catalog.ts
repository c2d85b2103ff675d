/**
 * Reads a backy2 2.13.8 catalog (its `versions`, `blocks`, `tags`, `stats` tables), read-only, for
 * `migrate-catalog`: an SQLite file, or a PostgreSQL database through {@link Backy2Tables} (see
 * backy2_pg_catalog.ts).
 *
 * Any of backy2's alembic schema revisions is accepted: columns that older revisions lack (`snapshot_name`, `expire`,
 * `enc_version`, `enc_envkey`, `enc_nonce`) and the `tags` table take their defaults. Values are brought into
 * this tool's forms: dates as `YYYY-MM-DD HH:MM:SS.ffffff`, `''` and `\x` (a nonce written that way) as null,
 * an empty block uid as sparse. The SQLite file is opened with `readOnly`, so it is never changed.
 */
import { DatabaseSync } from "node:sqlite";
import { resolve } from "../util/paths.ts";
import { BackyError } from "../util/errors.ts";
import type { BlockRecord, CatalogTime, ImportedVersion, StatsRow } from "./catalog.ts";

/** The database file of an SQLAlchemy SQLite URL: `sqlite:////abs/path` or `sqlite:///relative/path`. */
export function sqliteUrlPath(engine: string, cwd = Deno.cwd()): string {
  const match = /^sqlite:\/\/\/([^?]+)(?:\?.*)?$/.exec(engine);
  if (!match) throw new BackyError(`${engine} is not an SQLite catalog URL (expected sqlite:///PATH).`);
  return resolve(cwd, match[1]);
}

export type Row = Record<string, unknown>;

/** What the reader needs of a database: its tables' columns and queries with `?` placeholders. */
export interface Backy2Tables {
  /** Columns by table. */
  columns(): Promise<Map<string, Set<string>>>;
  all(sql: string, params?: unknown[]): Promise<Row[]>;
  /** A column of backy2's DATETIME type as text (`YYYY-MM-DD HH:MM:SS[.ffffff]`). */
  dateText(column: string): string;
  /** What orders stats rows as backy2 wrote them. */
  statsOrder: string;
  close(): Promise<void>;
}

const STATS_NUMBERS: [keyof StatsRow, string][] = [
  ["versionSizeBytes", "version_size_bytes"],
  ["versionSizeBlocks", "version_size_blocks"],
  ["bytesRead", "bytes_read"],
  ["blocksRead", "blocks_read"],
  ["bytesWritten", "bytes_written"],
  ["blocksWritten", "blocks_written"],
  ["bytesFoundDedup", "bytes_found_dedup"],
  ["blocksFoundDedup", "blocks_found_dedup"],
  ["bytesSparse", "bytes_sparse"],
  ["blocksSparse", "blocks_sparse"],
  ["durationSeconds", "duration_seconds"],
];

const REQUIRED: Record<string, string[]> = {
  versions: ["uid", "date", "name", "size", "size_bytes", "valid"],
  blocks: ["uid", "version_uid", "id", "date", "checksum", "size", "valid"],
};

export class Backy2Catalog {
  private constructor(private readonly db: Backy2Tables, private readonly columns: Map<string, Set<string>>) {}

  /** Reads `tables`; refuses a database that is not a backy2 catalog, naming what is wrong. */
  static async read(tables: Backy2Tables, engine: string): Promise<Backy2Catalog> {
    try {
      return new Backy2Catalog(tables, checkSchema(await tables.columns(), engine));
    } catch (error) {
      await tables.close();
      if (error instanceof BackyError) throw error;
      throw new BackyError(`${engine} cannot be read as a backy2 catalog: ${(error as Error).message}`);
    }
  }

  /** Opens an SQLite file read-only. */
  static async open(path: string, engine: string): Promise<Backy2Catalog> {
    try {
      Deno.statSync(path);
    } catch {
      throw new BackyError(`${engine}: no such file ${path}.`);
    }
    let db: DatabaseSync;
    try {
      db = new DatabaseSync(path, { readOnly: true });
    } catch (error) {
      throw new BackyError(`${engine} cannot be read as a backy2 catalog: ${(error as Error).message}`);
    }
    return await Backy2Catalog.read(sqliteTables(db), engine);
  }

  private has(table: string, column?: string): boolean {
    const columns = this.columns.get(table);
    return columns !== undefined && (column === undefined || columns.has(column));
  }

  /** `column` if the table has it, else `fallback AS column`. */
  private column(table: string, column: string, fallback: string): string {
    return this.has(table, column) ? column : `${fallback} AS ${column}`;
  }

  /** Every version, oldest first. */
  async versions(): Promise<ImportedVersion[]> {
    const expire = this.has("versions", "expire") ? `${this.db.dateText("expire")} AS expire` : "NULL AS expire";
    const sql = `SELECT uid, ${this.db.dateText("date")} AS date, name, size, size_bytes, valid, ` +
      `${this.column("versions", "protected", "0")}, ${this.column("versions", "snapshot_name", "''")}, ` +
      `${expire} FROM versions ORDER BY date, uid`;
    const tags = await this.tags();
    return (await this.db.all(sql)).map((row) => {
      const uid = String(row.uid);
      return {
        uid,
        date: catalogText(row.date, `date of version ${uid}`),
        expire: row.expire === null || row.expire === "" ? null : catalogText(row.expire, `expire of version ${uid}`),
        name: String(row.name),
        snapshotName: String(row.snapshot_name ?? ""),
        size: Number(row.size),
        sizeBytes: Number(row.size_bytes),
        valid: Number(row.valid) !== 0,
        protected: Number(row.protected) !== 0,
        tags: tags.get(uid) ?? [],
      };
    });
  }

  private async tags(): Promise<Map<string, string[]>> {
    const tags = new Map<string, string[]>();
    if (!this.has("tags")) return tags;
    for (const row of await this.db.all("SELECT version_uid, name FROM tags ORDER BY name")) {
      const uid = String(row.version_uid);
      tags.set(uid, [...(tags.get(uid) ?? []), String(row.name)]);
    }
    return tags;
  }

  /**
   * The block rows of a version, ordered by id. A missing size (never written by 2.13.8) is taken as the
   * block's share of the version's bytes under `blockSize`.
   */
  async blocks(version: ImportedVersion, blockSize: number): Promise<BlockRecord[]> {
    const sql = `SELECT id, uid, checksum, size, valid, ${this.db.dateText("date")} AS date, ` +
      `${this.column("blocks", "enc_version", "0")}, ${this.column("blocks", "enc_envkey", "NULL")}, ` +
      `${this.column("blocks", "enc_nonce", "NULL")} FROM blocks WHERE version_uid = ? ORDER BY id`;
    return (await this.db.all(sql, [version.uid])).map((row) => {
      const id = Number(row.id);
      const size = row.size === null ? Math.max(0, Math.min(blockSize, version.sizeBytes - id * blockSize)) : row.size;
      return {
        id,
        uid: nullable(row.uid),
        checksum: nullable(row.checksum),
        size: Number(size),
        valid: Number(row.valid) !== 0,
        encVersion: Number(row.enc_version ?? 0),
        encEnvkey: nullable(row.enc_envkey),
        encNonce: row.enc_nonce === "\\x" ? null : nullable(row.enc_nonce),
        date: catalogText(row.date, `date of block ${id} of version ${version.uid}`),
      };
    });
  }

  /** Every stats row, in the order backy2 wrote them. */
  async stats(): Promise<StatsRow[]> {
    if (!this.has("stats")) return [];
    const numbers = STATS_NUMBERS.map(([, column]) => this.column("stats", column, "0")).join(", ");
    const sql = `SELECT ${this.db.dateText("date")} AS date, version_uid, version_name, ${numbers} FROM stats ` +
      `ORDER BY ${this.db.statsOrder}`;
    return (await this.db.all(sql)).map((row) => {
      const stats: Record<string, unknown> = {
        date: catalogText(row.date, "date of a stats row").slice(0, 19),
        versionUid: String(row.version_uid ?? ""),
        versionName: String(row.version_name ?? ""),
      };
      for (const [key, column] of STATS_NUMBERS) stats[key] = Number(row[column] ?? 0);
      return stats as unknown as StatsRow;
    });
  }

  close(): Promise<void> {
    return this.db.close();
  }
}

/** An SQLite file as {@link Backy2Tables}. */
function sqliteTables(db: DatabaseSync): Backy2Tables {
  return {
    columns: () => {
      const tables = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as Row[])
        .map((row) => String(row.name));
      const columns = new Map<string, Set<string>>();
      for (const table of tables) {
        const info = db.prepare(`PRAGMA table_info("${table.replaceAll('"', '""')}")`).all() as Row[];
        columns.set(table, new Set(info.map((row) => String(row.name))));
      }
      return Promise.resolve(columns);
    },
    all: (sql, params = []) => Promise.resolve(db.prepare(sql).all(...(params as string[])) as Row[]),
    dateText: (column) => column,
    statsOrder: "rowid",
    close: () => Promise.resolve(db.close()),
  };
}

/** The tables and their columns, after checking that this is a backy2 catalog. */
function checkSchema(columns: Map<string, Set<string>>, engine: string): Map<string, Set<string>> {
  if (columns.has("meta") && columns.has("blobs")) {
    throw new BackyError(`${engine} is already a catalog of this tool, not a backy2 2.13.8 catalog.`);
  }
  for (const [table, required] of Object.entries(REQUIRED)) {
    const missing = required.filter((column) => !columns.get(table)?.has(column));
    if (missing.length) {
      const what = columns.has(table) ? `its ${table} table lacks ${missing.join(", ")}` : `it has no ${table} table`;
      throw new BackyError(`${engine} is not a backy2 catalog: ${what}.`);
    }
  }
  return columns;
}

function nullable(value: unknown): string | null {
  return value === null || value === undefined || value === "" ? null : String(value);
}

const DATETIME = /^(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,6})\d*)?)?)?$/;

/** A DATETIME (or an old DATE) as stored by SQLAlchemy, normalized to `YYYY-MM-DD HH:MM:SS.ffffff`. */
function catalogText(value: unknown, what: string): CatalogTime {
  const match = DATETIME.exec(String(value ?? "").trim());
  if (!match) throw new BackyError(`The ${what} is not a date: ${JSON.stringify(value)}.`);
  const [year, month, day, hour = "00", minute = "00", second = "00", fraction = ""] = match.slice(1);
  return `${year}-${month}-${day} ${hour}:${minute}:${second}.${fraction.padEnd(6, "0")}`;
}
