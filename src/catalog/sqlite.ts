/**
 * The embedded catalog: one SQLite file through `node:sqlite`, in WAL mode so that readers never wait for a
 * running backup. Opened (created only where allowed, migrated forward, read-only when it cannot be written)
 * by sqlite_open.ts.
 */
import type { DatabaseSync, StatementSync } from "node:sqlite";
import { BackyError, Exit, versionNotFound } from "../util/errors.ts";
import { catalogTime, now } from "../util/clock.ts";
import type {
  BackupStats,
  BlobRef,
  BlockMap,
  BlockRecord,
  Catalog,
  CatalogTime,
  ImportedVersion,
  NewBlobRef,
  NewVersion,
  RekeyCounts,
  StatsRow,
  Version,
  VersionFilter,
} from "./catalog.ts";
import { catalogWriteError, openCatalogFile, type OpenOptions, rollbackQuietly } from "./sqlite_open.ts";
import { countIds, packIds, type Page, toPages, unpackIds } from "./block_pages.ts";
import { newVersionUid } from "../util/ids.ts";

interface VersionRow {
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

interface BlobRow {
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

const VERSION_COLUMNS =
  "uid, date, expire, name, snapshot_name, size, size_bytes, valid, protected, draft IS NOT NULL AS in_progress, " +
  "block_size, hash_function";
const BLOB_COLUMNS = "id, uid, checksum, size, valid, enc_version, enc_envkey, enc_nonce, stored_size";
const LOOKUP_BATCH = 500;
const STATS_COLUMNS = "date, version_uid, version_name, version_size_bytes, version_size_blocks, bytes_read, " +
  "blocks_read, bytes_written, blocks_written, bytes_found_dedup, blocks_found_dedup, bytes_sparse, blocks_sparse, " +
  "duration_seconds, bytes_stored";

interface StatsDbRow {
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

function toStats(row: StatsDbRow): StatsRow {
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

export type { OpenOptions } from "./sqlite_open.ts";

export class SqliteCatalog implements Catalog {
  private readonly statements = new Map<string, StatementSync>();

  private constructor(private readonly db: DatabaseSync, private readonly path: string) {}

  /** Opens the catalog at `path` (see {@link openCatalogFile}). */
  static open(path: string, options: OpenOptions): SqliteCatalog {
    return new SqliteCatalog(openCatalogFile(path, options).db, path);
  }

  private stmt(sql: string): StatementSync {
    let statement = this.statements.get(sql);
    if (!statement) {
      statement = this.db.prepare(sql);
      this.statements.set(sql, statement);
    }
    return statement;
  }

  private depth = 0;
  /** Whether the open transaction is one of {@link transactionAwaiting}. */
  private awaiting = false;

  /** Runs `work` as one transaction; a failure caused by the catalog's file or disk is reported as such. */
  private transaction<T>(work: () => T): T {
    if (this.depth > 0) return work();
    this.depth++;
    try {
      this.db.exec("BEGIN IMMEDIATE");
      const result = work();
      this.db.exec("COMMIT");
      return result;
    } catch (error) {
      rollbackQuietly(this.db);
      throw catalogWriteError(this.path, error);
    } finally {
      this.depth--;
    }
  }

  /**
   * Like {@link transaction}, for work that awaits between its statements (hashing imported block maps).
   * Only for commands that do nothing else with the catalog meanwhile: any statement run during a wait joins.
   */
  private async transactionAwaiting<T>(work: () => Promise<T>): Promise<T> {
    if (this.depth > 0) {
      // A synchronous transaction would commit at the first wait and leave the rest of `work` outside it.
      if (!this.awaiting) throw new Error("a transaction that awaits cannot run inside a synchronous one");
      return await work();
    }
    this.depth++;
    this.awaiting = true;
    try {
      this.db.exec("BEGIN IMMEDIATE");
      const result = await work();
      this.db.exec("COMMIT");
      return result;
    } catch (error) {
      rollbackQuietly(this.db);
      throw catalogWriteError(this.path, error);
    } finally {
      this.depth--;
      this.awaiting = false;
    }
  }

  atomically<T>(work: () => T): T {
    return this.transaction(work);
  }

  atomicallyAwaiting<T>(work: () => Promise<T>): Promise<T> {
    return this.transactionAwaiting(work);
  }

  listVersions(filter: VersionFilter = {}): Version[] {
    const where: string[] = [];
    const params: (string | number)[] = [];
    if (filter.name !== undefined) where.push("name = ?"), params.push(filter.name);
    if (filter.snapshotName !== undefined) where.push("snapshot_name = ?"), params.push(filter.snapshotName);
    if (filter.tag !== undefined) {
      where.push("uid IN (SELECT version_uid FROM tags WHERE name = ?)"), params.push(filter.tag);
    }
    if (filter.expiredBefore !== undefined) {
      where.push("expire IS NOT NULL AND expire < ?"), params.push(filter.expiredBefore);
    }
    const sql = `SELECT ${VERSION_COLUMNS} FROM versions ${where.length ? "WHERE " + where.join(" AND ") : ""} ` +
      "ORDER BY name, date";
    const rows = this.stmt(sql).all(...params) as unknown as VersionRow[];
    const tags = this.allTags();
    return rows.map((row) => toVersion(row, tags.get(row.uid) ?? []));
  }

  private allTags(): Map<string, string[]> {
    const tags = new Map<string, string[]>();
    const rows = this.stmt("SELECT version_uid, name FROM tags ORDER BY name").all() as {
      version_uid: string;
      name: string;
    }[];
    for (const row of rows) {
      const list = tags.get(row.version_uid) ?? [];
      list.push(row.name);
      tags.set(row.version_uid, list);
    }
    return tags;
  }

  getVersion(uid: string): Version {
    const row = this.stmt(`SELECT ${VERSION_COLUMNS} FROM versions WHERE uid = ?`).get(uid) as
      | VersionRow
      | undefined;
    if (!row) throw versionNotFound(uid);
    const tags = (this.stmt("SELECT name FROM tags WHERE version_uid = ? ORDER BY name").all(uid) as {
      name: string;
    }[]).map((r) => r.name);
    return toVersion(row, tags);
  }

  createVersion(version: NewVersion): Version {
    const date = now();
    const uid = newVersionUid(date);
    const insert = this.stmt(
      "INSERT INTO versions (uid, date, expire, name, snapshot_name, size, size_bytes, valid, protected, draft, " +
        "block_size, hash_function) VALUES (?, ?, NULL, ?, ?, ?, ?, 0, 0, ?, ?, ?)",
    );
    this.transaction(() =>
      insert.run(
        uid,
        catalogTime(date),
        version.name,
        version.snapshotName,
        version.size,
        version.sizeBytes,
        new Uint8Array(0),
        version.blockSize,
        version.hashFunction,
      )
    );
    return this.getVersion(uid);
  }

  setVersionValid(uid: string, valid: boolean): void {
    this.transaction(() => this.stmt("UPDATE versions SET valid = ? WHERE uid = ?").run(valid ? 1 : 0, uid));
  }

  setExpire(uid: string, expire: CatalogTime | null): void {
    this.getVersion(uid);
    this.transaction(() => this.stmt("UPDATE versions SET expire = ? WHERE uid = ?").run(expire, uid));
  }

  setProtected(uid: string, value: boolean): void {
    this.transaction(() => this.stmt("UPDATE versions SET protected = ? WHERE uid = ?").run(value ? 1 : 0, uid));
  }

  removeTags(uid: string, tags: string[]): void {
    const remove = this.stmt("DELETE FROM tags WHERE version_uid = ? AND name = ?");
    this.transaction(() => tags.forEach((tag) => remove.run(uid, tag)));
  }

  addTags(uid: string, tags: string[]): void {
    const insert = this.stmt("INSERT OR IGNORE INTO tags (version_uid, name) VALUES (?, ?)");
    this.transaction(() => tags.forEach((tag) => insert.run(uid, tag)));
  }

  removeVersion(uid: string): number {
    return this.transaction(() => {
      const row = this.stmt("SELECT pages, draft FROM versions WHERE uid = ?").get(uid) as
        | { pages: Uint8Array | null; draft: Uint8Array | null }
        | undefined;
      if (!row) throw versionNotFound(uid);
      const released = new Map<number, number>();
      let blocks = 0;
      if (row.draft) {
        for (const id of unpackIds(row.draft)) if (id !== 0) blocks++;
      }
      for (const pageId of row.pages ? unpackIds(row.pages) : []) {
        const page = this.stmt("SELECT ids, users FROM pages WHERE id = ?").get(pageId) as {
          ids: Uint8Array;
          users: number;
        };
        const ids = unpackIds(page.ids);
        for (const id of ids) if (id !== 0) blocks++;
        if (page.users > 1) {
          this.stmt("UPDATE pages SET users = users - 1 WHERE id = ?").run(pageId);
          continue;
        }
        this.stmt("DELETE FROM pages WHERE id = ?").run(pageId);
        for (const id of ids) if (id !== 0) released.set(id, (released.get(id) ?? 0) + 1);
      }
      this.adjustRefs(released, -1);
      const claimed = (this.stmt("SELECT ref_id FROM claims WHERE version_uid = ?").all(uid) as { ref_id: number }[])
        .map((claim) => claim.ref_id);
      this.stmt("DELETE FROM claims WHERE version_uid = ?").run(uid);
      this.recordDeleteCandidates([...released.keys(), ...claimed, ...(row.draft ? unpackIds(row.draft) : [])]);
      this.stmt("DELETE FROM versions WHERE uid = ?").run(uid);
      return blocks;
    });
  }

  private adjustRefs(counts: Map<number, number>, sign: 1 | -1): void {
    const update = this.stmt("UPDATE blobs SET refs = refs + ? WHERE id = ?");
    for (const [id, count] of counts) update.run(sign * count, id);
  }

  /** Blobs no committed version uses any more become cleanup candidates (backy2's deleted_blocks). */
  private recordDeleteCandidates(ids: Iterable<number>): void {
    const seconds = Math.floor(now().getTime() / 1000);
    const insert = this.stmt("INSERT INTO deleted_blocks (uid, size, delete_candidate, time) VALUES (?, ?, 0, ?)");
    for (const ref of this.refs(new Set([...ids].filter((id) => id !== 0))).values()) {
      if (ref.uid === null) continue;
      const refs = (this.stmt("SELECT refs FROM blobs WHERE id = ?").get(ref.id) as { refs: number }).refs;
      if (refs <= 0) insert.run(ref.uid, ref.size, seconds);
    }
  }

  blockMap(uid: string): BlockMap {
    const row = this.stmt("SELECT size, pages, draft FROM versions WHERE uid = ?").get(uid) as
      | { size: number; pages: Uint8Array | null; draft: Uint8Array | null }
      | undefined;
    if (!row) throw versionNotFound(uid);
    const map = new Uint32Array(row.size);
    if (row.draft) {
      const draft = unpackIds(row.draft);
      map.set(draft.subarray(0, Math.min(draft.length, map.length)));
      return map;
    }
    let offset = 0;
    for (const pageId of row.pages ? unpackIds(row.pages) : []) {
      const page = this.stmt("SELECT ids FROM pages WHERE id = ?").get(pageId) as { ids: Uint8Array };
      const ids = unpackIds(page.ids);
      map.set(ids.subarray(0, Math.max(0, Math.min(ids.length, map.length - offset))), offset);
      offset += ids.length;
    }
    return map;
  }

  saveDraft(uid: string, map: BlockMap): void {
    const update = this.stmt("UPDATE versions SET draft = ? WHERE uid = ? AND draft IS NOT NULL");
    this.transaction(() => update.run(packIds(map), uid));
  }

  async commitVersion(uid: string, map: BlockMap): Promise<void> {
    const committed = map.slice(); // hashed before the transaction that stores it: nothing may change it meanwhile
    if (committed.includes(0)) throw new Error(`commitVersion: version ${uid} has blocks without a reference`);
    const pages = await toPages(committed);
    this.transaction(() => {
      const invalid = this.invalidRefIds();
      const valid = invalid.size === 0 || !committed.some((id) => invalid.has(id));
      const pageIds = this.storePages(pages);
      // Blobs this run claimed or wrote that its final map does not use (the source changed between a killed
      // run and its continuation, say) would otherwise be found by nothing but `cleanup --full`.
      const unused = this.stmt(
        "SELECT c.ref_id FROM claims c JOIN blobs b ON b.id = c.ref_id WHERE c.version_uid = ? AND b.refs <= 0",
      ).all(uid) as { ref_id: number }[];
      this.stmt("DELETE FROM claims WHERE version_uid = ?").run(uid);
      this.recordDeleteCandidates(unused.map((claim) => claim.ref_id));
      const { changes } = this.stmt(
        "UPDATE versions SET pages = ?, draft = NULL, valid = ? WHERE uid = ? AND draft IS NOT NULL",
      ).run(pageIds, valid ? 1 : 0, uid);
      if (Number(changes) !== 1) throw new Error(`commitVersion: version ${uid} is not in progress`);
    });
  }

  invalidRefIds(): Set<number> {
    const rows = this.stmt("SELECT id FROM blobs WHERE valid = 0").all() as { id: number }[];
    return new Set(rows.map((row) => row.id));
  }

  /**
   * Stores a block map's pages as shared pages (new pages count their references, known pages one more user);
   * returns the packed page ids for `versions.pages`. Runs inside a transaction.
   */
  private storePages(pages: Page[]): Uint8Array {
    const pageIds: number[] = [];
    const added = new Map<number, number>();
    for (const page of pages) {
      const existing = this.stmt("SELECT id FROM pages WHERE hash = ?").get(page.hash) as { id: number } | undefined;
      if (existing) {
        this.stmt("UPDATE pages SET users = users + 1 WHERE id = ?").run(existing.id);
        pageIds.push(existing.id);
        continue;
      }
      const result = this.stmt("INSERT INTO pages (hash, ids, users) VALUES (?, ?, 1)").run(page.hash, page.bytes);
      pageIds.push(Number(result.lastInsertRowid));
      countIds(page.ids, added);
    }
    this.adjustRefs(added, 1);
    return packIds(Uint32Array.from(pageIds));
  }

  async importVersion(version: ImportedVersion, blocks: BlockRecord[]): Promise<void> {
    // The map names references that only this transaction creates, so its pages are hashed inside it.
    await this.transactionAwaiting(async () => {
      if (this.stmt("SELECT 1 FROM versions WHERE uid = ?").get(version.uid)) throw versionExists(version.uid);
      const pages = await toPages(this.importedMap(version, blocks));
      this.stmt(
        "INSERT INTO versions (uid, date, expire, name, snapshot_name, size, size_bytes, valid, protected, pages, " +
          "draft, block_size, hash_function) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, ?, ?)",
      ).run(
        version.uid,
        version.date,
        version.expire,
        version.name,
        version.snapshotName,
        version.size,
        version.sizeBytes,
        version.valid ? 1 : 0,
        version.protected ? 1 : 0,
        this.storePages(pages),
        version.blockSize ?? null,
        version.hashFunction ?? null,
      );
      const insertDate = this.stmt("INSERT INTO block_dates (version_uid, id, date) VALUES (?, ?, ?)");
      for (const block of blocks) if (block.date !== version.date) insertDate.run(version.uid, block.id, block.date);
      const insertTag = this.stmt("INSERT OR IGNORE INTO tags (version_uid, name) VALUES (?, ?)");
      for (const tag of version.tags) insertTag.run(version.uid, tag);
    });
  }

  /** The block map of an imported version, with the references its blocks name found or created. */
  private importedMap(version: ImportedVersion, blocks: BlockRecord[]): BlockMap {
    const map = new Uint32Array(version.size);
    const known = new Map<string, number>();
    const created = Math.floor(now().getTime() / 1000);
    for (const block of blocks) {
      if (!Number.isInteger(block.id) || block.id < 0 || block.id >= map.length || map[block.id] !== 0) {
        throw new BackyError(
          `Version ${version.uid}: block id ${block.id} is repeated or outside its ${map.length} blocks.`,
        );
      }
      map[block.id] = this.importedRef(block, known, created);
    }
    return map;
  }

  /** The reference of an imported block: the sparse one of its size, or one with exactly its fields. */
  private importedRef(block: BlockRecord, known: Map<string, number>, created: number): number {
    if (block.uid === null) {
      const sparse = known.get(`sparse ${block.size}`) ?? this.sparseRef(block.size);
      known.set(`sparse ${block.size}`, sparse);
      return sparse;
    }
    const fields = [
      block.uid,
      block.checksum,
      block.size,
      block.valid ? 1 : 0,
      block.encVersion,
      block.encEnvkey,
      block.encNonce,
    ] as const;
    const key = fields.map((field) => field ?? "\u0001").join("\u0000");
    let id = known.get(key);
    if (id === undefined) {
      const row = this.stmt(
        "SELECT id FROM blobs WHERE uid = ? AND checksum IS ? AND size = ? AND valid = ? AND enc_version = ? " +
          "AND enc_envkey IS ? AND enc_nonce IS ? LIMIT 1",
      ).get(...fields) as { id: number } | undefined;
      id = row?.id ?? Number(
        this.stmt(
          "INSERT INTO blobs (uid, checksum, size, valid, enc_version, enc_envkey, enc_nonce, refs, created, " +
            "stored_size) VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?, ?)",
        ).run(...fields, created, storedSizeOf(block)).lastInsertRowid,
      );
      known.set(key, id);
    }
    return id;
  }

  exportBlocks(uid: string): BlockRecord[] {
    const version = this.getVersion(uid);
    const map = this.blockMap(uid);
    const refs = this.refs(new Set(map.filter((id) => id !== 0)));
    const dates = new Map(
      (this.stmt("SELECT id, date FROM block_dates WHERE version_uid = ?").all(uid) as { id: number; date: string }[])
        .map((row) => [row.id, row.date]),
    );
    const blocks: BlockRecord[] = [];
    map.forEach((refId, id) => {
      const ref = refs.get(refId);
      if (!ref) return;
      const { id: _, ...fields } = ref;
      blocks.push({ id, ...fields, date: dates.get(id) ?? version.date });
    });
    return blocks;
  }

  importStats(rows: StatsRow[]): void {
    this.transaction(() => rows.forEach((row) => this.writeStats(row.date, row)));
  }

  refs(ids: Iterable<number>): Map<number, BlobRef> {
    const result = new Map<number, BlobRef>();
    const list = [...ids];
    for (let start = 0; start < list.length; start += LOOKUP_BATCH) {
      const batch = list.slice(start, start + LOOKUP_BATCH);
      const sql = `SELECT ${BLOB_COLUMNS} FROM blobs WHERE id IN (${batch.map(() => "?").join(",")})`;
      for (const row of this.db.prepare(sql).all(...batch) as unknown as BlobRow[]) result.set(row.id, toRef(row));
    }
    return result;
  }

  irregularRefs(blockSize: number): Map<number, BlobRef> {
    const rows = this.stmt(
      `SELECT ${BLOB_COLUMNS} FROM blobs WHERE uid IS NULL OR valid = 0 OR size != ?`,
    ).all(blockSize) as unknown as BlobRow[];
    return new Map(rows.map((row) => [row.id, toRef(row)]));
  }

  findDedup(checksum: string, size: number, codecs: readonly number[], claimFor?: string): BlobRef | null {
    if (codecs.length === 0) return null;
    const find = () =>
      this.stmt(
        `SELECT ${BLOB_COLUMNS} FROM blobs WHERE checksum = ? AND size = ? AND valid = 1 AND uid IS NOT NULL ` +
          `AND enc_version IN (${codecs.map(() => "?").join(", ")}) ORDER BY enc_version = ? DESC, id LIMIT 1`,
      ).get(checksum, size, ...codecs, codecs[0]) as BlobRow | undefined;
    // A miss (most lookups of a first backup) takes no write lock. A hit is looked up again and claimed in one
    // transaction, so that no cleanup can come between finding the blob and claiming it.
    if (claimFor === undefined) return nullableRef(find());
    if (find() === undefined) return null;
    return this.transaction(() => {
      const row = find();
      if (row) this.stmt("INSERT OR IGNORE INTO claims (ref_id, version_uid) VALUES (?, ?)").run(row.id, claimFor);
      return nullableRef(row);
    });
  }

  takeDeleteCandidates(cutoff: number): { uid: string; size: number }[] {
    // The files go right after this commit: it must survive a power loss (WAL with synchronous=NORMAL
    // may lose the last commits), or references to deleted blobs would come back.
    this.db.exec("PRAGMA synchronous = FULL");
    try {
      return this.takeCandidatesNow(cutoff);
    } finally {
      this.db.exec("PRAGMA synchronous = NORMAL");
    }
  }

  private takeCandidatesNow(cutoff: number): { uid: string; size: number }[] {
    return this.transaction(() => {
      const drafted = this.draftRefIds();
      const old = this.stmt("SELECT DISTINCT uid FROM deleted_blocks WHERE time < ? AND uid IS NOT NULL").all(
        cutoff,
      ) as { uid: string }[];
      const falsePositive = this.stmt("DELETE FROM deleted_blocks WHERE uid = ? AND time < ?");
      const candidates: { uid: string; size: number }[] = [];
      for (const { uid } of old) {
        if (this.blobInUse(uid, drafted)) {
          falsePositive.run(uid, cutoff);
          continue;
        }
        const ref = this.stmt("SELECT size FROM blobs WHERE uid = ? LIMIT 1").get(uid) as { size: number } | undefined;
        this.stmt("DELETE FROM blobs WHERE uid = ?").run(uid);
        candidates.push({ uid, size: ref?.size ?? 0 });
      }
      return candidates;
    });
  }

  /**
   * Whether a committed version, a claim or an in-progress block map uses blob `uid` through any of its
   * references (one indexed query per candidate, so a cleanup costs what it deletes, not the catalog's size).
   */
  private blobInUse(uid: string, drafted: Set<number>): boolean {
    const rows = this.stmt(
      "SELECT b.id, b.refs > 0 OR EXISTS (SELECT 1 FROM claims c WHERE c.ref_id = b.id) AS used " +
        "FROM blobs b WHERE b.uid = ?",
    ).all(uid) as { id: number; used: number }[];
    return rows.some((row) => row.used === 1 || drafted.has(row.id));
  }

  /** Reference ids in the draft block maps of in-progress versions. */
  private draftRefIds(): Set<number> {
    const ids = new Set<number>();
    const drafts = this.stmt("SELECT draft FROM versions WHERE draft IS NOT NULL").all() as { draft: Uint8Array }[];
    for (const row of drafts) for (const id of unpackIds(row.draft)) if (id !== 0) ids.add(id);
    return ids;
  }

  forgetDeleted(uids: string[]): void {
    const remove = this.stmt("DELETE FROM deleted_blocks WHERE uid = ?");
    this.transaction(() => uids.forEach((uid) => remove.run(uid)));
  }

  usedBlobUids(prefix = ""): Set<string> {
    const rows = this.stmt(
      "SELECT DISTINCT uid FROM blobs b WHERE uid IS NOT NULL AND substr(uid, 1, ?) = ? " +
        "AND (refs > 0 OR EXISTS (SELECT 1 FROM claims c WHERE c.ref_id = b.id))",
    ).all(prefix.length, prefix) as { uid: string }[];
    const used = new Set(rows.map((row) => row.uid));
    for (const ref of this.refs(this.draftRefIds()).values()) {
      if (ref.uid !== null && ref.uid.startsWith(prefix)) used.add(ref.uid);
    }
    return used;
  }

  dropUnusedBlobs(prefix = ""): Set<string> {
    // Durable before the caller deletes any file, like the fast cleanup's candidates.
    this.db.exec("PRAGMA synchronous = FULL");
    try {
      return this.transaction(() => {
        const used = this.usedBlobUids(prefix);
        const known = this.stmt("SELECT DISTINCT uid FROM blobs WHERE uid IS NOT NULL AND substr(uid, 1, ?) = ?")
          .all(prefix.length, prefix) as { uid: string }[];
        const dropRefs = this.stmt("DELETE FROM blobs WHERE uid = ?");
        const dropCandidates = this.stmt("DELETE FROM deleted_blocks WHERE uid = ?");
        for (const { uid } of known) {
          if (used.has(uid)) continue;
          dropRefs.run(uid);
          dropCandidates.run(uid);
        }
        return used;
      });
    } finally {
      this.db.exec("PRAGMA synchronous = NORMAL");
    }
  }

  addRefs(refs: NewBlobRef[], claimFor?: string): number[] {
    const insert = this.stmt(
      "INSERT INTO blobs (uid, checksum, size, valid, enc_version, enc_envkey, enc_nonce, refs, created, " +
        "stored_size) VALUES (?, ?, ?, 1, ?, ?, ?, 0, ?, ?)",
    );
    const claim = this.stmt("INSERT OR IGNORE INTO claims (ref_id, version_uid) VALUES (?, ?)");
    const created = Math.floor(Date.now() / 1000);
    return this.transaction(() =>
      refs.map((ref) => {
        const { lastInsertRowid } = insert.run(
          ref.uid,
          ref.checksum,
          ref.size,
          ref.encVersion,
          ref.encEnvkey,
          ref.encNonce,
          created,
          storedSizeOf(ref),
        );
        if (claimFor !== undefined) claim.run(lastInsertRowid, claimFor);
        return Number(lastInsertRowid);
      })
    );
  }

  sparseRef(size: number): number {
    const existing = this.stmt("SELECT id FROM blobs WHERE uid IS NULL AND size = ?").get(size) as
      | { id: number }
      | undefined;
    if (existing) return existing.id;
    const insert = this.stmt(
      "INSERT OR IGNORE INTO blobs (uid, checksum, size, valid, enc_version, refs, created) VALUES " +
        "(NULL, NULL, ?, 1, 0, 0, 0)",
    );
    this.transaction(() => insert.run(size));
    return (this.stmt("SELECT id FROM blobs WHERE uid IS NULL AND size = ?").get(size) as { id: number }).id;
  }

  revalidate(ids: Iterable<number>): void {
    const update = this.stmt("UPDATE blobs SET valid = 1 WHERE id = ? AND valid = 0");
    this.transaction(() => {
      for (const id of ids) update.run(id);
    });
  }

  invalidate(uid: string, checksum: string | null): string[] {
    return this.transaction(() => {
      const ids = new Set(
        (this.stmt("SELECT id FROM blobs WHERE uid = ? AND checksum IS ?").all(uid, checksum) as { id: number }[])
          .map((r) => r.id),
      );
      if (ids.size === 0) return [];
      this.stmt("UPDATE blobs SET valid = 0 WHERE uid = ? AND checksum IS ?").run(uid, checksum);
      const affected = this.versionsUsing(ids);
      const update = this.stmt("UPDATE versions SET valid = 0 WHERE uid = ?");
      for (const versionUid of affected) update.run(versionUid);
      return affected;
    });
  }

  /** Uids of the versions whose block map (committed or draft) contains any of these reference ids. */
  private versionsUsing(ids: Set<number>): string[] {
    const pagesWith = new Set<number>();
    for (const page of this.stmt("SELECT id, ids FROM pages").iterate() as Iterable<{ id: number; ids: Uint8Array }>) {
      if (unpackIds(page.ids).some((id) => ids.has(id))) pagesWith.add(page.id);
    }
    const rows = this.stmt("SELECT uid, pages, draft FROM versions ORDER BY name, date").all() as {
      uid: string;
      pages: Uint8Array | null;
      draft: Uint8Array | null;
    }[];
    return rows.filter((row) =>
      (row.pages && unpackIds(row.pages).some((id) => pagesWith.has(id))) ||
      (row.draft && unpackIds(row.draft).some((id) => ids.has(id)))
    ).map((row) => row.uid);
  }

  rewrapEnvkeys(
    encVersion: number,
    rewrap: (envkey: string | null, uid: string) => string,
    onProgress?: (counts: RekeyCounts) => void,
  ): RekeyCounts {
    return this.transaction(() => {
      const total = (this.stmt("SELECT count(*) AS n FROM blobs").get() as { n: number }).n;
      const counts: RekeyCounts = { rekeyed: 0, sparse: 0, otherVersion: 0, total };
      const page = this.stmt(
        "SELECT id, uid, enc_version, enc_envkey FROM blobs WHERE id > ? ORDER BY id LIMIT " + LOOKUP_BATCH,
      );
      const update = this.stmt("UPDATE blobs SET enc_envkey = ? WHERE id = ?");
      for (let last = 0;;) {
        const rows = page.all(last) as unknown as Pick<BlobRow, "id" | "uid" | "enc_version" | "enc_envkey">[];
        if (rows.length === 0) return counts;
        for (const row of rows) {
          if (row.uid === null) counts.sparse++;
          else if (row.enc_version !== encVersion) counts.otherVersion++;
          else update.run(rewrap(row.enc_envkey, row.uid), row.id), counts.rekeyed++;
          onProgress?.(counts);
        }
        last = rows[rows.length - 1].id;
      }
    });
  }

  insertStats(s: BackupStats): void {
    this.transaction(() => this.writeStats(catalogTime(now()).slice(0, 19), s));
  }

  private writeStats(date: string, s: BackupStats): void {
    this.stmt(
      "INSERT INTO stats (date, version_uid, version_name, version_size_bytes, version_size_blocks, bytes_read, " +
        "blocks_read, bytes_written, blocks_written, bytes_found_dedup, blocks_found_dedup, bytes_sparse, " +
        "blocks_sparse, duration_seconds, bytes_stored) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    ).run(
      date,
      s.versionUid,
      s.versionName,
      s.versionSizeBytes,
      s.versionSizeBlocks,
      s.bytesRead,
      s.blocksRead,
      s.bytesWritten,
      s.blocksWritten,
      s.bytesFoundDedup,
      s.blocksFoundDedup,
      s.bytesSparse,
      s.blocksSparse,
      s.durationSeconds,
      s.bytesStored ?? null,
    );
  }

  listStats(options: { versionUid?: string; limit?: number }): StatsRow[] {
    const { versionUid, limit } = options;
    if (limit !== undefined && limit < 1) return [];
    if (versionUid !== undefined) {
      return (this.stmt(`SELECT ${STATS_COLUMNS} FROM stats WHERE version_uid = ? ORDER BY id`).all(
        versionUid,
      ) as unknown as StatsDbRow[]).map(toStats);
    }
    const rows = this.stmt(`SELECT ${STATS_COLUMNS} FROM stats ORDER BY date DESC, id ASC LIMIT ?`).all(
      limit ?? -1,
    ) as unknown as StatsDbRow[];
    return rows.map(toStats).reverse();
  }

  storeBytes(): number {
    const row = this.stmt(
      "SELECT COALESCE(SUM(size), 0) AS bytes FROM " +
        "(SELECT MAX(size) AS size FROM blobs WHERE uid IS NOT NULL GROUP BY uid)",
    ).get() as { bytes: number };
    return Number(row.bytes);
  }

  referenceCounts(): Map<number, number> {
    const counts = new Map<number, number>();
    const add = (ids: Uint32Array, times: number) => {
      for (const id of ids) if (id !== 0) counts.set(id, (counts.get(id) ?? 0) + times);
    };
    for (
      const page of this.stmt("SELECT ids, users FROM pages").iterate() as Iterable<{ ids: Uint8Array; users: number }>
    ) {
      add(unpackIds(page.ids), page.users);
    }
    for (
      const row of this.stmt("SELECT draft FROM versions WHERE draft IS NOT NULL").iterate() as Iterable<
        { draft: Uint8Array }
      >
    ) {
      add(unpackIds(row.draft), 1);
    }
    return counts;
  }

  close(): void {
    this.statements.clear();
    this.db.close();
  }
}

/** `'Version {uid} already exists and cannot be imported.'` (exit 22, as the reference's KeyError). */
function versionExists(uid: string): BackyError {
  return new BackyError(`Version ${uid} already exists and cannot be imported.`, {
    exitCode: Exit.importExists,
    quoted: true,
    bare: true,
  });
}

function toVersion(row: VersionRow, tags: string[]): Version {
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

function nullableRef(row: BlobRow | undefined): BlobRef | null {
  return row ? toRef(row) : null;
}

function toRef(row: BlobRow): BlobRef {
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

/** The stored size to record: the one given, else a plain blob's own size (else unknown). */
function storedSizeOf(ref: NewBlobRef): number | null {
  if (ref.storedSize !== undefined && ref.storedSize !== null) return ref.storedSize;
  return ref.uid !== null && ref.encVersion === 0 ? ref.size : null;
}
