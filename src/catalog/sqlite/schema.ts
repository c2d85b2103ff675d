/**
 * The embedded catalog's SQLite schema and its forward migrations.
 *
 * `meta.schema_version` says which migrations ran; every open runs the missing ones in order. Tables keep
 * backy2's names and text formats where they mean the same thing (versions, tags, stats, deleted_blocks);
 * `blobs` and `pages` replace backy2's one-row-per-block `blocks` table (see block_pages.ts).
 */
import type { DatabaseSync } from "node:sqlite";

const MIGRATIONS: string[] = [
  // 1: the initial schema.
  `
  CREATE TABLE versions (
    uid           TEXT    NOT NULL PRIMARY KEY,
    date          TEXT    NOT NULL,
    expire        TEXT,
    name          TEXT    NOT NULL,
    snapshot_name TEXT    NOT NULL DEFAULT '',
    size          INTEGER NOT NULL,
    size_bytes    INTEGER NOT NULL,
    valid         INTEGER NOT NULL,
    protected     INTEGER NOT NULL,
    pages         BLOB,
    draft         BLOB
  );
  CREATE INDEX versions_name_date ON versions (name, date);
  CREATE TABLE tags (
    version_uid TEXT NOT NULL REFERENCES versions (uid) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    PRIMARY KEY (version_uid, name)
  ) WITHOUT ROWID;
  CREATE TABLE blobs (
    id          INTEGER PRIMARY KEY,
    uid         TEXT,
    checksum    TEXT,
    size        INTEGER NOT NULL,
    valid       INTEGER NOT NULL DEFAULT 1,
    enc_version INTEGER NOT NULL DEFAULT 0,
    enc_envkey  TEXT,
    enc_nonce   TEXT,
    refs        INTEGER NOT NULL DEFAULT 0,
    created     INTEGER NOT NULL
  );
  CREATE INDEX blobs_checksum ON blobs (checksum) WHERE checksum IS NOT NULL;
  CREATE INDEX blobs_uid ON blobs (uid) WHERE uid IS NOT NULL;
  CREATE UNIQUE INDEX blobs_sparse_size ON blobs (size) WHERE uid IS NULL;
  CREATE TABLE pages (
    id    INTEGER PRIMARY KEY,
    hash  BLOB    NOT NULL UNIQUE,
    ids   BLOB    NOT NULL,
    users INTEGER NOT NULL
  );
  CREATE TABLE block_dates (
    version_uid TEXT    NOT NULL REFERENCES versions (uid) ON DELETE CASCADE,
    id          INTEGER NOT NULL,
    date        TEXT    NOT NULL,
    PRIMARY KEY (version_uid, id)
  ) WITHOUT ROWID;
  CREATE TABLE stats (
    date DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    id INTEGER NOT NULL PRIMARY KEY,
    version_uid TEXT,
    version_name TEXT NOT NULL,
    version_size_bytes INTEGER NOT NULL,
    version_size_blocks INTEGER NOT NULL,
    bytes_read INTEGER NOT NULL,
    blocks_read INTEGER NOT NULL,
    bytes_written INTEGER NOT NULL,
    blocks_written INTEGER NOT NULL,
    bytes_found_dedup INTEGER NOT NULL,
    blocks_found_dedup INTEGER NOT NULL,
    bytes_sparse INTEGER NOT NULL,
    blocks_sparse INTEGER NOT NULL,
    duration_seconds INTEGER NOT NULL
  );
  CREATE INDEX ix_stats_version_uid ON stats (version_uid);
  CREATE TABLE deleted_blocks (
    id INTEGER NOT NULL PRIMARY KEY,
    uid TEXT,
    size INTEGER,
    delete_candidate INTEGER NOT NULL,
    time INTEGER NOT NULL
  );
  CREATE INDEX ix_deleted_blocks_uid ON deleted_blocks (uid);
  `,
  // 2: a running backup's claims on existing blobs it deduplicated against, so that a concurrent fast
  // cleanup never deletes them before the backup's block map counts them.
  `
  CREATE TABLE claims (
    ref_id      INTEGER NOT NULL,
    version_uid TEXT    NOT NULL REFERENCES versions (uid) ON DELETE CASCADE,
    PRIMARY KEY (ref_id, version_uid)
  ) WITHOUT ROWID;
  CREATE INDEX claims_version ON claims (version_uid);
  `,
  // 3: the block size and hash function each version was made with (NULL: made before they were recorded),
  // so that a changed configuration never restores, scrubs or continues a version with the wrong ones.
  `
  ALTER TABLE versions ADD COLUMN block_size INTEGER;
  ALTER TABLE versions ADD COLUMN hash_function TEXT;
  `,
  // 4: the bytes each blob takes in the block store (its codec may compress it) and each backup run's stored
  // bytes. NULL where they were not recorded; a plain blob takes its size.
  `
  ALTER TABLE blobs ADD COLUMN stored_size INTEGER;
  UPDATE blobs SET stored_size = size WHERE uid IS NOT NULL AND enc_version = 0;
  ALTER TABLE stats ADD COLUMN bytes_stored INTEGER;
  `,
  // 5: the page object in the block store (src/meta/) that holds each page's blobs; NULL: none written yet.
  // The few invalid references are found by an index: every commit and every header asks for them.
  `
  ALTER TABLE pages ADD COLUMN object BLOB;
  CREATE INDEX blobs_invalid ON blobs (id) WHERE valid = 0;
  `,
];

export const SCHEMA_VERSION = MIGRATIONS.length;

/** The schema version a database is at; 0 for an empty database, -1 for a backy2 (alembic) catalog. */
export function schemaVersion(db: DatabaseSync): number {
  const tables = new Set(
    (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[]).map((r) => r.name),
  );
  if (tables.has("meta")) {
    const row = db.prepare("SELECT value FROM meta WHERE key = 'schema_version'").get() as { value: string };
    return Number(row.value);
  }
  if (tables.has("alembic_version") || tables.has("blocks")) return -1;
  return 0;
}

/** Brings the database to {@link SCHEMA_VERSION} in one transaction (safe when two processes race). */
export function migrate(db: DatabaseSync): void {
  db.exec("BEGIN IMMEDIATE");
  try {
    const from = schemaVersion(db);
    if (from < 0 || from > SCHEMA_VERSION) throw new Error(`unexpected catalog schema version ${from}`);
    if (from === 0) db.exec("CREATE TABLE meta (key TEXT NOT NULL PRIMARY KEY, value TEXT NOT NULL)");
    for (let version = from + 1; version <= SCHEMA_VERSION; version++) db.exec(MIGRATIONS[version - 1]);
    db.prepare("INSERT OR REPLACE INTO meta (key, value) VALUES ('schema_version', ?)").run(String(SCHEMA_VERSION));
    db.exec("COMMIT");
  } catch (error) {
    // SQLite may have rolled back already (a full disk); a failing ROLLBACK must not hide the cause.
    if (db.isTransaction) {
      try {
        db.exec("ROLLBACK");
      } catch { /* the original error is reported */ }
    }
    throw error;
  }
}
