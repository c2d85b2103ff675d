/**
 * `migrate-encryption` (behavior §16.5, the intended behaviour rather than the reference's crash): a new
 * version of the same image whose stored blocks are all in the configured encryption version.
 *
 * Sparse blocks and blocks already in the target version are copied as they are. Every other stored blob is
 * replaced by a valid blob of the target version with the same content: one that already exists (claimed for
 * the new version, as a backup claims what it deduplicates onto), or a new one written from the old blob's
 * verified plain bytes. New blobs are flushed before their references enter the catalog, together with the
 * draft block map. Blocks that share an old blob share its replacement.
 *
 * A blob that cannot be read (or does not match its checksum) is reported and invalidated like in a restore;
 * its blocks stay empty, and the new version then remains an invalid draft instead of being committed. Any other
 * failure (a wrong key, a write error) removes the new version again. The old version is kept; no stats row is
 * written.
 */
import { createHash } from "node:crypto";
import type { BlobRef, BlockMap, NewBlobRef, Version } from "../catalog/catalog.ts";
import { BlobNotFoundError, BlobUnreadableError } from "../store/block_store.ts";
import { BackyError, versionLocked } from "../util/errors.ts";
import { newBlobUid } from "../store/blob_uid.ts";
import type { Engine } from "./engine.ts";
import { invalidateBlob } from "./invalidate.ts";
import { engineFor } from "./version_layout.ts";

const CHECKPOINT_BLOBS = 32;
const PROGRESS_EVERY = 100;

/** Migrates version `uid`; returns the new version's uid. */
export async function migrateEncryption(engine: Engine, uid: string): Promise<string> {
  const { catalog, locks } = engine;
  if (!locks.lock(uid, "shared")) throw versionLocked(uid);
  try {
    const old = catalog.getVersion(uid);
    if (old.inProgress) {
      throw new BackyError(`Version ${uid} is incomplete (its backup never finished); it cannot be migrated.`);
    }
    return await new Migration(engineFor(engine, old), old).run();
  } finally {
    locks.unlock(uid);
  }
}

/** A blob written for the new version whose reference is not in the catalog yet (id 0 until recorded). */
interface Replacement {
  ref: NewBlobRef;
  blocks: number[];
  id: number;
}

const MISSING = "missing";

class Migration {
  private readonly target: number;
  private readonly replaced = new Map<number, Replacement | typeof MISSING>();
  private readonly written: Replacement[] = [];
  private missingBlocks = 0;
  private version!: Version;
  private map!: BlockMap;

  constructor(private readonly engine: Engine, private readonly old: Version) {
    this.target = engine.settings.encryptionVersion;
  }

  async run(): Promise<string> {
    const { catalog, locks, settings } = this.engine;
    const oldMap = catalog.blockMap(this.old.uid);
    const refs = catalog.refs(new Set(oldMap));
    this.version = catalog.createVersion({
      name: this.old.name,
      snapshotName: this.old.snapshotName,
      size: this.old.size,
      sizeBytes: this.old.sizeBytes,
      blockSize: settings.blockSize,
      hashFunction: settings.hashFunction,
    });
    if (!locks.lock(this.version.uid)) throw versionLocked(this.version.uid);
    try {
      await this.copyBlocks(oldMap, refs);
      return await this.finish();
    } finally {
      locks.unlock(this.version.uid);
    }
  }

  /** Fills the new block map; on an unexpected failure the half-made version is removed again. */
  private async copyBlocks(oldMap: BlockMap, refs: Map<number, BlobRef>): Promise<void> {
    const { catalog } = this.engine;
    try {
      if (this.old.expire !== null) catalog.setExpire(this.version.uid, this.old.expire);
      this.map = new Uint32Array(oldMap.length);
      for (let id = 0; id < oldMap.length; id++) {
        await this.migrateBlock(id, refs.get(oldMap[id])!);
        this.reportProgress(id + 1, oldMap.length);
      }
      await this.checkpoint();
    } catch (error) {
      catalog.removeVersion(this.version.uid);
      throw error;
    }
  }

  private async finish(): Promise<string> {
    const { catalog, log } = this.engine;
    const { uid } = this.version;
    catalog.addTags(uid, [...this.old.tags, `migrated-encryption-to-${this.target}`]);
    if (this.missingBlocks > 0) {
      throw new BackyError(
        `Migration of version ${this.old.uid} to encryption version ${this.target} is incomplete: ` +
          `${this.missingBlocks} blocks could not be read. The new version ${uid} lacks them and stays invalid.`,
      );
    }
    await catalog.commitVersion(uid, this.map);
    log.info(`Migrated version ${this.old.uid} to encryption version ${this.target}. New version: ${uid}.`);
    return uid;
  }

  private reportProgress(done: number, total: number): void {
    if (done % PROGRESS_EVERY !== 0) return;
    this.engine.log.info(
      `Migration to encryption version ${this.target} for version ${this.old.uid} to new version ` +
        `${this.version.uid}, ${done}/${total} blocks done.`,
    );
  }

  private async migrateBlock(id: number, ref: BlobRef): Promise<void> {
    if (ref.uid === null || ref.encVersion === this.target) {
      this.map[id] = ref.id;
      return;
    }
    const known = this.replaced.get(ref.id);
    if (known === MISSING) this.missingBlocks++;
    else if (known?.id) this.map[id] = known.id;
    else if (known) known.blocks.push(id);
    else if (!this.reuse(id, ref)) await this.rewrite(id, ref);
  }

  /** Points the block at an existing valid blob of the target version with the same content, if any. */
  private reuse(id: number, ref: BlobRef): boolean {
    const { catalog, settings } = this.engine;
    if (!settings.deduplication || !ref.checksum) return false;
    const existing = catalog.findDedup(ref.checksum, this.target, ref.size, this.version.uid);
    if (!existing) return false;
    this.map[id] = existing.id;
    this.replaced.set(ref.id, { ref: existing, blocks: [], id: existing.id });
    return true;
  }

  private async rewrite(id: number, ref: BlobRef): Promise<void> {
    const data = await this.readVerified(id, ref);
    if (data === null) {
      this.replaced.set(ref.id, MISSING);
      this.missingBlocks++;
      return;
    }
    const uid = newBlobUid();
    const encoding = await this.engine.store.write(uid, data);
    const replacement: Replacement = {
      ref: { uid, checksum: ref.checksum, size: ref.size, ...encoding },
      blocks: [id],
      id: 0,
    };
    this.replaced.set(ref.id, replacement);
    this.written.push(replacement);
    if (this.written.length >= CHECKPOINT_BLOBS) await this.checkpoint();
  }

  /** The old blob's plain bytes, or null (reported and invalidated) when it is missing, damaged or wrong. */
  private async readVerified(id: number, ref: BlobRef): Promise<Uint8Array | null> {
    const { log, store, settings } = this.engine;
    let data: Uint8Array;
    try {
      data = await store.read(ref.uid!, ref);
    } catch (error) {
      if (!(error instanceof BlobUnreadableError)) throw error;
      if (error instanceof BlobNotFoundError) log.error(`Key not found: ${ref.uid}. Marking block as invalid.`);
      else log.error(`${error.message} Marking block as invalid.`);
      invalidateBlob(this.engine, ref.uid!, ref.checksum);
      return null;
    }
    const checksum = createHash(settings.hashFunction).update(data).digest("hex");
    if (data.length === ref.size && checksum === ref.checksum) return data;
    log.error(
      `Checksum mismatch during migration for block ${id} (UID ${ref.uid}) (is: ${checksum} should-be: ` +
        `${ref.checksum}). Marking block as invalid.`,
    );
    invalidateBlob(this.engine, ref.uid!, ref.checksum);
    return null;
  }

  /** Makes the written blobs durable, then records them and saves the draft block map in one transaction. */
  private async checkpoint(): Promise<void> {
    const { catalog, store } = this.engine;
    const batch = this.written.splice(0);
    if (batch.length > 0) await store.flush();
    catalog.atomically(() => {
      const ids = catalog.addRefs(batch.map((replacement) => replacement.ref));
      batch.forEach((replacement, i) => {
        replacement.id = ids[i];
        for (const block of replacement.blocks) this.map[block] = replacement.id;
      });
      catalog.saveDraft(this.version.uid, this.map);
    });
  }
}
