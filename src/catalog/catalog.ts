/**
 * The catalog: what versions exist, which blob each of their blocks is, and the per-run statistics.
 *
 * One set of interfaces for every catalog backend (the embedded SQLite one, PostgreSQL), split by role: versions
 * and tags, block maps, blob references, the cleanup queue, stats, imports and exports, and key material. Every
 * method is async; work that must be atomic runs in {@link Catalog.withTransaction}, whose handle has the same
 * roles. Engine functions take only the roles they use. A version's
 * blocks are a {@link BlockMap}: one 32-bit blob-reference id per block, 0 for "not written yet". A blob
 * reference ({@link BlobRef}) is one distinct stored block content (uid, checksum, size, codec fields,
 * valid flag), or a sparse block of some size (uid null). Many blocks of many versions share one reference,
 * which is what makes an unchanged differential backup cost a few kilobytes instead of one row per block.
 */

/** Timestamps are naive-UTC text as backy2 writes them: `YYYY-MM-DD HH:MM:SS.ffffff`. */
export type CatalogTime = string;

export interface Version {
  uid: string;
  date: CatalogTime;
  expire: CatalogTime | null;
  name: string;
  snapshotName: string;
  /** Number of blocks. */
  size: number;
  sizeBytes: number;
  valid: boolean;
  protected: boolean;
  /** Alphabetical. */
  tags: string[];
  /** True while the version's block map is a draft that a backup (or `backup -c`) is still filling. */
  inProgress: boolean;
  /**
   * The block size and hash function the version was made with; null for versions recorded before the
   * catalog kept them (imported or migrated from backy2), which were made with the configured ones.
   */
  blockSize: number | null;
  hashFunction: string | null;
}

export interface BlobRef {
  id: number;
  /** null for a sparse (all-zero) block. */
  uid: string | null;
  checksum: string | null;
  /** Plain (decoded) size in bytes. */
  size: number;
  valid: boolean;
  /** The blob's codec id (see store/codecs.ts), in backy2's enc_version column. */
  encVersion: number;
  encEnvkey: string | null;
  encNonce: string | null;
  /** Bytes the blob takes in the block store; null when not recorded (blobs written before it was). */
  storedSize: number | null;
}

/** A reference to record; a stored size left out is unknown, or the size itself for a plain blob. */
export type NewBlobRef = Omit<BlobRef, "id" | "valid" | "storedSize"> & { storedSize?: number | null };

/** One blob-reference id per block id; 0 = no block recorded yet. */
export type BlockMap = Uint32Array;

export interface NewVersion {
  name: string;
  snapshotName: string;
  size: number;
  sizeBytes: number;
  blockSize: number;
  hashFunction: string;
}

export interface VersionFilter {
  name?: string;
  snapshotName?: string;
  tag?: string;
  /** Only versions whose expire is set and earlier than this time. */
  expiredBefore?: CatalogTime;
}

export interface BackupStats {
  versionUid: string;
  versionName: string;
  versionSizeBytes: number;
  versionSizeBlocks: number;
  bytesRead: number;
  blocksRead: number;
  bytesWritten: number;
  blocksWritten: number;
  bytesFoundDedup: number;
  blocksFoundDedup: number;
  bytesSparse: number;
  blocksSparse: number;
  durationSeconds: number;
  /** Bytes the written blobs take in the block store; null or absent where it was not counted. */
  bytesStored?: number | null;
}

/** One stats row (backy2's `stats` table); `date` is `YYYY-MM-DD HH:MM:SS` (UTC). */
export interface StatsRow extends BackupStats {
  date: string;
}

/**
 * One block of a version as backy2's `blocks` table holds it: what `export` writes, what `import` and
 * `migrate-catalog` bring in. `uid` null is a sparse block; `valid` is its reference's flag; `date` is when
 * the block was recorded (the version's date unless it was stored apart).
 */
export interface BlockRecord extends Omit<BlobRef, "id" | "storedSize"> {
  /** As in {@link NewBlobRef}. */
  storedSize?: number | null;
  /** The block id (its index in the version), not a reference id. */
  id: number;
  date: CatalogTime;
}

/** A finished version brought in from elsewhere (a metadata dump, a backy2 catalog). */
export type ImportedVersion =
  & Omit<Version, "inProgress" | "blockSize" | "hashFunction">
  & Partial<Pick<Version, "blockSize" | "hashFunction">>;

/** What {@link KeyRole.rewrapEnvkeys} did, counted in references (each holds one envkey). */
export interface RekeyCounts {
  /** Stored references of the rekeyed encryption version: their envkey was rewrapped. */
  rekeyed: number;
  /** Sparse references (no blob, no key). */
  sparse: number;
  /** Stored references of another encryption version (no key to rewrap). */
  otherVersion: number;
  /** All references. */
  total: number;
}

/** What deduplication looks for: a blob of this content (checksum) and plain size. */
export interface DedupKey {
  checksum: string;
  size: number;
}

/** Versions and their tags. */
export interface VersionRole {
  /** Versions ordered by name, then date. */
  listVersions(filter?: VersionFilter): Promise<Version[]>;
  /** Throws `'Version {uid} not found.'`. */
  getVersion(uid: string): Promise<Version>;
  /** Creates an invalid, in-progress version with an empty draft block map. */
  createVersion(version: NewVersion): Promise<Version>;
  setVersionValid(uid: string, valid: boolean): Promise<void>;
  setExpire(uid: string, expire: CatalogTime | null): Promise<void>;
  setProtected(uid: string, value: boolean): Promise<void>;
  addTags(uid: string, tags: string[]): Promise<void>;
  removeTags(uid: string, tags: string[]): Promise<void>;
  /** Removes the version and releases its references; returns its number of recorded blocks. */
  removeVersion(uid: string): Promise<number>;
}

/** Block maps: the draft a running backup fills, the committed pages, and how often references are used. */
export interface BlockMapRole {
  /** The version's block map: the committed one, or the draft of an in-progress version. */
  blockMap(uid: string): Promise<BlockMap>;
  /** Persists the draft of an in-progress version (blobs it names must already be durable). */
  saveDraft(uid: string, map: BlockMap): Promise<void>;
  /**
   * Turns the draft into the committed block map, atomically; the version turns valid unless a block uses a
   * blob that was found bad meanwhile. Throws when the version is not in progress (committed twice).
   */
  commitVersion(uid: string, map: BlockMap): Promise<void>;
  /** For every reference id, how many blocks of all versions (committed and in progress) use it. */
  referenceCounts(): Promise<Map<number, number>>;
}

/** Blob references: what each block's blob is, deduplication and its claims, validity. */
export interface BlobRole {
  /** Looks up references by id; missing ids are absent from the result. */
  refs(ids: Iterable<number>): Promise<Map<number, BlobRef>>;
  /**
   * The references that are not "a valid stored blob of exactly `blockSize` bytes": sparse ones, short ones
   * and invalid ones. A differential backup needs to know only these about its base's blocks, so it never
   * has to look up every block of a large unchanged image.
   */
  irregularRefs(blockSize: number): Promise<Map<number, BlobRef>>;
  /** Ids of the references marked invalid (few: only bad blobs). */
  invalidRefIds(): Promise<Set<number>>;
  /**
   * For each wanted content, a valid stored blob with its checksum and size whose codec is one of `codecs`
   * (one of `codecs[0]` when there is one, else the oldest), or null: one round trip for a whole window of
   * blocks. With `claimFor`, the in-progress version claims what is found in the same transaction, so that no
   * cleanup deletes it until that version is committed or removed.
   */
  findDedup(wanted: readonly DedupKey[], codecs: readonly number[], claimFor?: string): Promise<(BlobRef | null)[]>;
  /**
   * Records references to durable blobs; returns their ids in order. With `claimFor`, the in-progress
   * version claims them, so that no cleanup deletes them before it is committed or removed.
   */
  addRefs(refs: NewBlobRef[], claimFor?: string): Promise<number[]>;
  /** The id of the sparse reference of this size. */
  sparseRef(size: number): Promise<number>;
  /** Marks these references valid again (a full scrub read them and found them intact). */
  revalidate(ids: Iterable<number>): Promise<void>;
  /** Marks every reference with this (uid, checksum) invalid and every version using it; returns those uids. */
  invalidate(uid: string, checksum: string | null): Promise<string[]>;
}

/** The cleanup queue: delete candidates, and which blobs are in use. */
export interface CleanupRole {
  /**
   * Fast cleanup, catalog side, in one transaction: forgets delete candidates older than `cutoff` (unix
   * seconds) whose blob is in use again, then removes the references of the remaining old candidates that
   * nothing uses (no committed version, no in-progress block map, no claim) and returns their blob uids. The
   * caller deletes those blobs, then calls {@link forgetDeleted}.
   */
  takeDeleteCandidates(cutoff: number): Promise<{ uid: string; size: number }[]>;
  /** Drops the delete-candidate rows of these blob uids. */
  forgetDeleted(uids: string[]): Promise<void>;
  /**
   * The blob uids (starting with `prefix`) that a committed version, an in-progress block map or a claim
   * uses. For the full cleanup, which runs alone: delete candidates nothing uses again are not in it.
   */
  usedBlobUids(prefix?: string): Promise<Set<string>>;
  /**
   * Full cleanup, catalog side: in one durable transaction, forgets the references and delete candidates of
   * every blob uid (starting with `prefix`) that {@link usedBlobUids} does not name, so that no later backup
   * deduplicates onto a blob about to be deleted; returns the used uids as of that transaction.
   */
  dropUnusedBlobs(prefix?: string): Promise<Set<string>>;
}

/** Per-run statistics and catalog-wide sums. */
export interface StatsRole {
  insertStats(stats: BackupStats): Promise<void>;
  /** Adds stats rows as given (their dates included), in order. */
  importStats(rows: StatsRow[]): Promise<void>;
  /**
   * Stats rows: of one version in insertion order, or the newest `limit` rows of all (all when undefined),
   * oldest first, ties in reverse insertion order as backy2 prints them. A limit below 1 gives none.
   */
  listStats(options: { versionUid?: string; limit?: number }): Promise<StatsRow[]>;
  /** The plain size of every distinct stored blob the catalog records (until cleanup forgets it), summed. */
  storeBytes(): Promise<number>;
}

/** Whole versions in and out: `import`, `export`, `migrate-catalog`. */
export interface TransferRole {
  /**
   * Adds a finished version with its blocks: finds or creates the blob references (blocks with the same uid,
   * checksum, size, valid flag and codec fields share one; sparse blocks share the sparse reference of their
   * size), stores the block map like {@link BlockMapRole.commitVersion}, keeps the block dates that differ
   * from the version's date, and keeps the valid and protected flags as given. Block ids missing from
   * `blocks` stay unrecorded (an incomplete version). Throws `'Version {uid} already exists and cannot be
   * imported.'` (exit 22) for a uid the catalog has.
   */
  importVersion(version: ImportedVersion, blocks: BlockRecord[]): Promise<void>;
  /** The recorded blocks of a version, ordered by id. */
  exportBlocks(uid: string): Promise<BlockRecord[]>;
  /** The blocks of a version recorded at another date than the version's (imported ones), by ascending id. */
  blockDates(uid: string): Promise<[number, string][]>;
}

/** The name (SHA-256, 32 bytes) of a block-map page's page object in the block store (see src/meta/). */
export type PageObjectName = Uint8Array;

/**
 * Which page object in the block store holds each committed block-map page's blobs (src/meta/): what lets a
 * backup write only the page objects of pages no version had before. A page's record goes with the page, and
 * {@link KeyRole.rewrapEnvkeys} forgets every record, since the objects name the old envkeys.
 */
export interface PageObjectRole {
  /** For each page hash (see block_pages.ts), its recorded page object; null when none is, or no such page. */
  pageObjects(hashes: Uint8Array[]): Promise<(PageObjectName | null)[]>;
  /** Records the page objects of these pages; pages the catalog does not have are left out. */
  setPageObjects(records: { hash: Uint8Array; object: PageObjectName }[]): Promise<void>;
}

/** Key material: `rekey`. */
export interface KeyRole {
  /**
   * Replaces the envkey of every stored reference of encryption version `encVersion` by
   * `rewrap(envkey, blobUid)`, all in one transaction, so if `rewrap` throws nothing changes; when any was
   * rewrapped, every recorded page object is forgotten in that transaction. `onProgress` sees the counts after
   * every reference.
   */
  rewrapEnvkeys(
    encVersion: number,
    rewrap: (envkey: string | null, uid: string) => string,
    onProgress?: (counts: RekeyCounts) => void,
  ): Promise<RekeyCounts>;
}

/** Every role; what a transaction handle offers. */
export type CatalogRoles =
  & VersionRole
  & BlockMapRole
  & BlobRole
  & CleanupRole
  & StatsRole
  & TransferRole
  & KeyRole
  & PageObjectRole;

/** Roles `R` plus transactions over them. */
export interface Transactional<R> {
  /**
   * Runs `work` as one transaction: every call on `tx` joins it, and it commits when `work` settles (rolls
   * back when it throws). Calls on the catalog itself while it runs are not part of it (on SQLite they wait).
   */
  withTransaction<T>(work: (tx: R) => Promise<T>): Promise<T>;
}

export interface Catalog extends CatalogRoles, Transactional<CatalogRoles> {
  /** `sqlite` or `postgresql`. */
  readonly kind: string;
  close(): Promise<void>;
}
