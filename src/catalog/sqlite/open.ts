/**
 * Opening the embedded catalog's SQLite file, and naming the cause when it cannot be written.
 *
 * Only `initdb` (and the embedded default on an empty store) creates a catalog: a missing or 0-byte file is
 * otherwise an error, because an empty catalog in place of the real one would make `cleanup --full` delete
 * every blob. A catalog that cannot be written (a read-only file, directory or mount) is opened read-only, so
 * that listing and restoring still work; each write then fails with {@link catalogWriteError}'s message.
 */
import { DatabaseSync } from "node:sqlite";
import { dirname } from "../../util/paths.ts";
import { BackyError } from "../../util/errors.ts";
import { migrate, SCHEMA_VERSION, schemaVersion } from "./schema.ts";

export interface OpenOptions {
  /** For messages: the configured engine URL. */
  engine: string;
  /** Create the catalog (and its directory) when the file is missing or empty; false: that is an error. */
  create: boolean;
}

export interface OpenedCatalog {
  db: DatabaseSync;
  /** Opened read-only because the file, its directory or its filesystem cannot be written. */
  readOnly: boolean;
}

export const BUSY_TIMEOUT_MS = 30000;

// SQLite's primary result codes (the low byte of an extended code).
const SQLITE_READONLY = 8;
const SQLITE_IOERR = 10;
const SQLITE_FULL = 13;
const SQLITE_CANTOPEN = 14;

/**
 * Opens (and if allowed creates, and if needed migrates) the catalog at `path`. Two processes creating the
 * same new catalog can meet while one switches it to WAL mode, which SQLite answers with "database is
 * locked" at once instead of waiting; opening is retried until the busy timeout.
 */
export function openCatalogFile(path: string, options: OpenOptions): OpenedCatalog {
  const present = hasContent(path);
  if (!present) {
    if (!options.create) throw notCreated(path);
    Deno.mkdirSync(dirname(path), { recursive: true });
  }
  const deadline = Date.now() + BUSY_TIMEOUT_MS;
  while (true) {
    try {
      return { db: openWritable(path, options), readOnly: false };
    } catch (error) {
      if (error instanceof BackyError) throw error;
      const busy = /database is locked|database is busy/.test((error as Error).message);
      if (busy && Date.now() < deadline) {
        sleepSync(20 + Math.random() * 80);
        continue;
      }
      const code = sqliteCode(error);
      if (present && (code === SQLITE_READONLY || code === SQLITE_CANTOPEN)) {
        return { db: openReadOnly(path, options, error as Error), readOnly: true };
      }
      throw new BackyError(`Cannot open catalog ${path} (${options.engine}): ${(error as Error).message}`, {
        exitCode: 1,
        bare: true,
      });
    }
  }
}

/**
 * The error to report for a failed catalog write: SQLite's own words with the catalog's path when the cause
 * is the catalog's disk or file (read-only, full, failing); anything else as it is.
 */
export function catalogWriteError(path: string, error: unknown): unknown {
  const message = (error as Error).message;
  switch (sqliteCode(error)) {
    case SQLITE_READONLY:
      return new BackyError(`Catalog ${path} is read-only: ${message}`);
    case SQLITE_FULL:
    case SQLITE_IOERR:
      return new BackyError(`Catalog ${path}: ${message}`);
    default:
      return error;
  }
}

/** Ends a failed transaction. SQLite rolls some back by itself (a full disk), and a failing ROLLBACK must not
 * hide the error that made it necessary. */
export function rollbackQuietly(db: DatabaseSync): void {
  if (!db.isTransaction) return;
  try {
    db.exec("ROLLBACK");
  } catch {
    // The caller reports the original error.
  }
}

/** SQLite's texts for those codes (sqlite3_errstr), for the errors `exec` throws without an `errcode`. */
const CODE_OF_MESSAGE = new Map([
  ["attempt to write a readonly database", SQLITE_READONLY],
  ["disk I/O error", SQLITE_IOERR],
  ["database or disk is full", SQLITE_FULL],
  ["unable to open database file", SQLITE_CANTOPEN],
]);

function sqliteCode(error: unknown): number | null {
  const { errcode, code, message } = (error ?? {}) as { errcode?: unknown; code?: unknown; message?: unknown };
  if (typeof errcode === "number") return errcode & 0xff;
  if (code !== "ERR_SQLITE_ERROR" || typeof message !== "string") return null;
  return CODE_OF_MESSAGE.get(message) ?? null;
}

/** Whether `path` is a file with content, or a 0-byte file whose write-ahead log holds the content. */
function hasContent(path: string): boolean {
  return fileSize(path) > 0 || fileSize(`${path}-wal`) > 0;
}

function fileSize(path: string): number {
  try {
    return Deno.statSync(path).size;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound || error instanceof Deno.errors.NotADirectory) return 0;
    throw error;
  }
}

function notCreated(path: string): BackyError {
  const what = fileSize(path) === 0 && exists(path) ? "is empty (0 bytes)" : "does not exist";
  return new BackyError(
    `Catalog ${path} ${what}. Run 'backy2 initdb' to create it (or fix [MetaBackend] engine).`,
    { exitCode: 1, bare: true },
  );
}

function exists(path: string): boolean {
  try {
    Deno.lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

/** Opens the file for writing, refuses what is not (yet) ours, switches to WAL and migrates. */
function openWritable(path: string, options: OpenOptions): DatabaseSync {
  const db = new DatabaseSync(path);
  try {
    db.exec(`PRAGMA busy_timeout = ${BUSY_TIMEOUT_MS}`);
    // Checked before switching to WAL, which would change a backy2 file that is refused here.
    const version = checkedSchemaVersion(db, path, options);
    // Switching needs an exclusive lock; a catalog already in WAL mode (every one but a new file) skips it.
    const mode = db.prepare("PRAGMA journal_mode").get() as { journal_mode: string };
    if (mode.journal_mode !== "wal") db.exec("PRAGMA journal_mode = WAL");
    db.exec("PRAGMA synchronous = NORMAL");
    db.exec("PRAGMA foreign_keys = ON");
    if (version < SCHEMA_VERSION) migrate(db);
    return db;
  } catch (error) {
    db.close();
    throw error;
  }
}

/**
 * Opens a catalog that cannot be written, for reading. A WAL catalog needs its `-shm` file, which a read-only
 * directory cannot get; without a write-ahead log to replay, the file alone is the whole catalog and is opened
 * as immutable.
 */
function openReadOnly(path: string, options: OpenOptions, cause: Error): DatabaseSync {
  const attempts = [path];
  if (fileSize(`${path}-wal`) === 0) attempts.push(`${fileUri(path)}?immutable=1`);
  for (const name of attempts) {
    let db: DatabaseSync | null = null;
    try {
      db = new DatabaseSync(name, { readOnly: true });
      db.exec(`PRAGMA busy_timeout = ${BUSY_TIMEOUT_MS}`);
      const version = checkedSchemaVersion(db, path, options);
      if (version < SCHEMA_VERSION) {
        throw new BackyError(
          `Catalog ${path} is read-only (${cause.message}) and needs an upgrade to schema version ` +
            `${SCHEMA_VERSION}; run backy2 once with write access to it.`,
          { exitCode: 1, bare: true },
        );
      }
      return db;
    } catch (error) {
      db?.close();
      if (error instanceof BackyError) throw error;
    }
  }
  throw new BackyError(`Cannot open catalog ${path} (${options.engine}), not even read-only: ${cause.message}`, {
    exitCode: 1,
    bare: true,
  });
}

/** The schema version, refusing a backy2 catalog and one newer than this tool. */
function checkedSchemaVersion(db: DatabaseSync, path: string, options: OpenOptions): number {
  const version = schemaVersion(db);
  if (version === -1) {
    throw new BackyError(
      `${path} is a backy2 2.13.8 catalog; import it into this tool's catalog with ` +
        `'backy2 migrate-catalog ${options.engine}' instead of using it directly.`,
      { exitCode: 1, bare: true },
    );
  }
  if (version > SCHEMA_VERSION) {
    throw new BackyError(
      `Catalog ${path} has schema version ${version}, newer than this backy2 knows (${SCHEMA_VERSION}).`,
      { exitCode: 1, bare: true },
    );
  }
  return version;
}

/** An SQLite URI for a file path (each path segment percent-encoded, so `?`, `#` and `%` stay literal). */
function fileUri(path: string): string {
  return `file:${path.split("/").map(encodeURIComponent).join("/")}`;
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}
