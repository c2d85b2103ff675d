/**
 * Reads a backy2 2.13.8 SQLite catalog (its `versions`, `blocks`, `tags`, `stats` tables), read-only, for
 * `migrate-catalog`.
 *
 * Any of backy2's alembic schema revisions is accepted: columns that older revisions lack (`snapshot_name`, `expire`,
 * `enc_version`, `enc_envkey`, `enc_nonce`) and the `tags` table take their defaults. Values are brought into
 * this tool's forms: dates as `YYYY-MM-DD HH:MM:SS.ffffff`, `''` and `\x` (a nonce written that way) as null,
 * an empty block uid as sparse. The file is opened with `readOnly`, so it is never changed.
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

type Row = Record<string, unknown>;

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
  private constructor(
    private readonly db: DatabaseSync,
    private readonly columns: Map<string, Set<string>>,
    readonly path: string,
  ) {}

  /** Opens the catalog read-only; refuses a file that is not a backy2 catalog, naming what is wrong. */
  static open(path: string, engine: string): Backy2Catalog {
    try {
      Deno.statSync(path);
    } catch {
      throw new BackyError(`${engine}: no such file ${path}.`);
    }
    let db: DatabaseSync | undefined;
    try {
      db = new DatabaseSync(path, { readOnly: true });
      return new Backy2Catalog(db, checkSchema(db, engine), path);
    } catch (error) {
      db?.close();
      if (error instanceof BackyError) throw error;
      throw new BackyError(`${engine} cannot be read as a backy2 catalog: ${(error as Error).message}`);
    }
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
  versions(): ImportedVersion[] {
    const sql = "SELECT uid, date, name, size, size_bytes, valid, " +
      `${this.column("versions", "protected", "0")}, ${this.column("versions", "snapshot_name", "''")}, ` +
      `${this.column("versions", "expire", "NULL")} FROM versions ORDER BY date, uid`;
    const tags = this.tags();
    return (this.db.prepare(sql).all() as Row[]).map((row) => {
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

  private tags(): Map<string, string[]> {
    const tags = new Map<string, string[]>();
    if (!this.has("tags")) return tags;
    for (const row of this.db.prepare("SELECT version_uid, name FROM tags ORDER BY name").all() as Row[]) {
      const uid = String(row.version_uid);
      tags.set(uid, [...(tags.get(uid) ?? []), String(row.name)]);
    }
    return tags;
  }

  /**
   * The block rows of a version, ordered by id. A missing size (never written by 2.13.8) is taken as the
   * block's share of the version's bytes under `blockSize`.
   */
  blocks(version: ImportedVersion, blockSize: number): BlockRecord[] {
    const sql = "SELECT id, uid, checksum, size, valid, date, " +
      `${this.column("blocks", "enc_version", "0")}, ${this.column("blocks", "enc_envkey", "NULL")}, ` +
      `${this.column("blocks", "enc_nonce", "NULL")} FROM blocks WHERE version_uid = ? ORDER BY id`;
    return (this.db.prepare(sql).all(version.uid) as Row[]).map((row) => {
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
  stats(): StatsRow[] {
    if (!this.has("stats")) return [];
    const numbers = STATS_NUMBERS.map(([, column]) => this.column("stats", column, "0")).join(", ");
    const sql = `SELECT date, version_uid, version_name, ${numbers} FROM stats ORDER BY rowid`;
    return (this.db.prepare(sql).all() as Row[]).map((row) => {
      const stats: Record<string, unknown> = {
        date: catalogText(row.date, "date of a stats row").slice(0, 19),
        versionUid: String(row.version_uid ?? ""),
        versionName: String(row.version_name ?? ""),
      };
      for (const [key, column] of STATS_NUMBERS) stats[key] = Number(row[column] ?? 0);
      return stats as unknown as StatsRow;
    });
  }

  close(): void {
    this.db.close();
  }
}

/** The tables and their columns, after checking that this is a backy2 catalog. */
function checkSchema(db: DatabaseSync, engine: string): Map<string, Set<string>> {
  const tables = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as Row[])
    .map((row) => String(row.name));
  const columns = new Map<string, Set<string>>();
  for (const table of tables) {
    const info = db.prepare(`PRAGMA table_info("${table.replaceAll('"', '""')}")`).all() as Row[];
    columns.set(table, new Set(info.map((row) => String(row.name))));
  }
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
