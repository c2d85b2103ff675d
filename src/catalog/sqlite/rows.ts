/**
 * The SQLite catalog's rows and their conversion to the catalog's types. SQLite keeps booleans as 0 and 1.
 */
import type { BlobRef, NewBlobRef, StatsRow, Version } from "../catalog.ts";

export interface VersionRow {
  uid: string;
  date: string;
  expire: string | null;
  name: string;
  snapshot_name: string;
  size: number;
  size_bytes: number;
  valid: number;
  protected: number;
  in_progress: number;
  block_size: number | null;
  hash_function: string | null;
}

export interface BlobRow {
  id: number;
  uid: string | null;
  checksum: string | null;
  size: number;
  valid: number;
  enc_version: number;
  enc_envkey: string | null;
  enc_nonce: string | null;
  stored_size: number | null;
}

export interface StatsDbRow {
  date: string;
  version_uid: string;
  version_name: string;
  version_size_bytes: number;
  version_size_blocks: number;
  bytes_read: number;
  blocks_read: number;
  bytes_written: number;
  blocks_written: number;
  bytes_found_dedup: number;
  blocks_found_dedup: number;
  bytes_sparse: number;
  blocks_sparse: number;
  duration_seconds: number;
  bytes_stored: number | null;
}

export const VERSION_COLUMNS =
  "uid, date, expire, name, snapshot_name, size, size_bytes, valid, protected, draft IS NOT NULL AS in_progress, " +
  "block_size, hash_function";
export const BLOB_COLUMNS = "id, uid, checksum, size, valid, enc_version, enc_envkey, enc_nonce, stored_size";
export const STATS_COLUMNS = "date, version_uid, version_name, version_size_bytes, version_size_blocks, " +
  "bytes_read, blocks_read, bytes_written, blocks_written, bytes_found_dedup, blocks_found_dedup, bytes_sparse, " +
  "blocks_sparse, duration_seconds, bytes_stored";
/** Ids per `IN (...)` list. */
export const LOOKUP_BATCH = 500;

export function toVersion(row: VersionRow, tags: string[]): Version {
  return {
    uid: row.uid,
    date: row.date,
    expire: row.expire,
    name: row.name,
    snapshotName: row.snapshot_name,
    size: row.size,
    sizeBytes: row.size_bytes,
    valid: row.valid === 1,
    protected: row.protected === 1,
    tags,
    inProgress: row.in_progress === 1,
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
    valid: row.valid === 1,
    encVersion: row.enc_version,
    encEnvkey: row.enc_envkey,
    encNonce: row.enc_nonce,
    storedSize: row.stored_size,
  };
}

export function toStats(row: StatsDbRow): StatsRow {
  return {
    date: row.date.slice(0, 19),
    versionUid: row.version_uid,
    versionName: row.version_name,
    versionSizeBytes: row.version_size_bytes,
    versionSizeBlocks: row.version_size_blocks,
    bytesRead: row.bytes_read,
    blocksRead: row.blocks_read,
    bytesWritten: row.bytes_written,
    blocksWritten: row.blocks_written,
    bytesFoundDedup: row.bytes_found_dedup,
    blocksFoundDedup: row.blocks_found_dedup,
    bytesSparse: row.bytes_sparse,
    blocksSparse: row.blocks_sparse,
    durationSeconds: row.duration_seconds,
    bytesStored: row.bytes_stored,
  };
}

/** The stored size to record: the one given, else a plain blob's own size (else unknown). */
export function storedSizeOf(ref: NewBlobRef): number | null {
  if (ref.storedSize !== undefined && ref.storedSize !== null) return ref.storedSize;
  return ref.uid !== null && ref.encVersion === 0 ? ref.size : null;
}
