/**
 * Catalog rows as both SQL engines return them, and their conversion to the catalog's types. The engines share
 * the schema's column names; they differ only in how a flag comes back (SQLite 0/1, PostgreSQL a boolean).
 */
import type { BlobRef, NewBlobRef, StatsRow, Version } from "./catalog.ts";

/** A boolean column: SQLite keeps it as 0 or 1, PostgreSQL as a boolean. */
export type Flag = number | boolean;

export interface VersionRow {
  uid: string;
  date: string;
  expire: string | null;
  name: string;
  snapshot_name: string;
  size: number;
  size_bytes: number;
  valid: Flag;
  protected: Flag;
  in_progress: Flag;
  block_size: number | null;
  hash_function: string | null;
}

export interface BlobRow {
  id: number;
  uid: string | null;
  checksum: string | null;
  size: number;
  valid: Flag;
  enc_version: number;
  enc_envkey: string | null;
  enc_nonce: string | null;
  stored_size: number | null;
}

export type StatsDbRow = Record<string, string | number | null>;

export const VERSION_COLUMNS = "uid, date, expire, name, snapshot_name, size, size_bytes, valid, protected, " +
  "draft IS NOT NULL AS in_progress, block_size, hash_function";
export const BLOB_COLUMNS = "id, uid, checksum, size, valid, enc_version, enc_envkey, enc_nonce, stored_size";

/** Stats columns and the row fields they hold, in table order. */
export const STATS_FIELDS: [string, keyof StatsRow][] = [
  ["date", "date"],
  ["version_uid", "versionUid"],
  ["version_name", "versionName"],
  ["version_size_bytes", "versionSizeBytes"],
  ["version_size_blocks", "versionSizeBlocks"],
  ["bytes_read", "bytesRead"],
  ["blocks_read", "blocksRead"],
  ["bytes_written", "bytesWritten"],
  ["blocks_written", "blocksWritten"],
  ["bytes_found_dedup", "bytesFoundDedup"],
  ["blocks_found_dedup", "blocksFoundDedup"],
  ["bytes_sparse", "bytesSparse"],
  ["blocks_sparse", "blocksSparse"],
  ["duration_seconds", "durationSeconds"],
  ["bytes_stored", "bytesStored"],
];
export const STATS_COLUMNS = STATS_FIELDS.map(([column]) => column).join(", ");

export function toVersion(row: VersionRow, tags: string[]): Version {
  return {
    uid: row.uid,
    date: row.date,
    expire: row.expire,
    name: row.name,
    snapshotName: row.snapshot_name,
    size: row.size,
    sizeBytes: row.size_bytes,
    valid: Boolean(row.valid),
    protected: Boolean(row.protected),
    tags,
    inProgress: Boolean(row.in_progress),
    blockSize: row.block_size,
    hashFunction: row.hash_function,
  };
}

export function toRef(row: BlobRow): BlobRef {
  return {
    id: row.id,
    uid: row.uid,
    checksum: row.checksum,
    size: row.size,
    valid: Boolean(row.valid),
    encVersion: row.enc_version,
    encEnvkey: row.enc_envkey,
    encNonce: row.enc_nonce,
    storedSize: row.stored_size,
  };
}

/** A stats row as stored, its date cut to seconds. */
export function toStats(row: StatsDbRow): StatsRow {
  const stats = Object.fromEntries(STATS_FIELDS.map(([column, field]) => [field, row[column]])) as unknown as StatsRow;
  stats.date = String(row.date).slice(0, 19);
  return stats;
}

/** The stored size to record: the one given, else a plain blob's own size (else unknown). */
export function storedSizeOf(ref: NewBlobRef): number | null {
  if (ref.storedSize !== undefined && ref.storedSize !== null) return ref.storedSize;
  return ref.uid !== null && ref.encVersion === 0 ? ref.size : null;
}
