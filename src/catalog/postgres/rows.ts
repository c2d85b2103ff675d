/**
 * The PostgreSQL catalog's rows and their conversion to the catalog's types.
 */
import type { BlobRef, StatsRow, Version } from "../catalog.ts";

export interface VersionRow {
  uid: string;
  date: string;
  expire: string | null;
  name: string;
  snapshot_name: string;
  size: number;
  size_bytes: number;
  valid: boolean;
  protected: boolean;
  in_progress: boolean;
  block_size: number | null;
  hash_function: string | null;
}

export interface BlobRow {
  id: number;
  uid: string | null;
  checksum: string | null;
  size: number;
  valid: boolean;
  enc_version: number;
  enc_envkey: string | null;
  enc_nonce: string | null;
  stored_size: number | null;
}

export type StatsDbRow = Record<string, string | number | null>;

export const VERSION_COLUMNS = "uid, date, expire, name, snapshot_name, size, size_bytes, valid, protected, " +
  "draft IS NOT NULL AS in_progress, block_size, hash_function";
export const BLOB_COLUMNS = "id, uid, checksum, size, valid, enc_version, enc_envkey, enc_nonce, stored_size";
/** Byte-wise order, as SQLite sorts text. */
export const BY_NAME_DATE = 'ORDER BY name COLLATE "C", date COLLATE "C"';

export function toVersion(row: VersionRow, tags: string[]): Version {
  return {
    uid: row.uid,
    date: row.date,
    expire: row.expire,
    name: row.name,
    snapshotName: row.snapshot_name,
    size: row.size,
    sizeBytes: row.size_bytes,
    valid: row.valid,
    protected: row.protected,
    tags,
    inProgress: row.in_progress,
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
    valid: row.valid,
    encVersion: row.enc_version,
    encEnvkey: row.enc_envkey,
    encNonce: row.enc_nonce,
    storedSize: row.stored_size,
  };
}

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

export function toStats(row: StatsDbRow): StatsRow {
  const stats = Object.fromEntries(STATS_FIELDS.map(([column, field]) => [field, row[column]])) as unknown as StatsRow;
  stats.date = String(row.date).slice(0, 19);
  return stats;
}
