/**
 * `migrate-encryption` (what backy2 2.13.8 meant it to do; that version crashes instead) and
 * `migrate-compression`: a new version of the same image whose stored blocks are all in the configured
 * encryption version, or all in the configured compression (among unencrypted blobs).
 *
 * Sparse blocks and blocks whose codec the target keeps are copied as they are. Every other stored blob is
 * replaced by a valid blob of the target with the same content: one that already exists (claimed for the new
 * version, as a backup claims what it deduplicates onto), or a new one written in the configured codec from
 * the old blob's verified plain bytes. A plain blob that zstd does not shrink is kept instead of being copied.
 * New blobs are flushed before their references enter the catalog, together with the draft block map. Blocks
 * that share an old blob share its replacement.
 *
 * A blob that cannot be read (or does not match its checksum) is reported and invalidated like in a restore;
 * its blocks stay empty, and the new version then remains an invalid draft instead of being committed. Any other
 * failure (a wrong key, a write error) removes the new version again. The old version is kept; no stats row is
 * written.
 */
import { createHash } from "node:crypto";
import type {
  BlobRef,
  BlobRole,
  BlockMap,
  BlockMapRole,
  NewBlobRef,
  Transactional,
  Version,
  VersionRole,
} from "../catalog/catalog.ts";
import { BlobNotFoundError, BlobUnreadableError } from "../store/block_store.ts";
import { codecById, PLAIN_CODEC } from "../store/codecs.ts";
import { BackyError, versionLocked } from "../util/errors.ts";
import { newBlobUid } from "../store/blob_uid.ts";
import type { EngineWith } from "./engine.ts";
import { type CommitCatalog, commitWithMeta } from "../meta/sync.ts";

/** The catalog roles a migration uses. */
export type MigrationCatalog =
  & VersionRole
  & BlockMapRole
  & BlobRole
  & CommitCatalog
  & Transactional<BlobRole & BlockMapRole>;
type Engine = EngineWith<MigrationCatalog>;
import { invalidateBlob } from "./invalidate.ts";
import { engineFor } from "./version_layout.ts";

const CHECKPOINT_BLOBS = 32;
const PROGRESS_EVERY = 100;

/** What a migration brings the blobs to. */
interface Target {
  /** In messages: `encryption version 1`, `compression zstd`. */
  label: string;
  /** The tag the new version gets. */
  tag: string;
  /** Whether a blob of this codec is rewritten. */
  rewrites(codec: number): boolean;
  /** Codecs of existing blobs a rewritten block may point at instead, the configured one first. */
  reuse: number[];
}

const encrypts = (codec: number) => codecById(codec)?.encrypts ?? false;

/** Every blob whose encryption differs from the configured encryption version is rewritten. */
function encryptionTarget(engine: Engine): Target {
  const { codec } = engine.settings;
  const version = encrypts(codec) ? 1 : 0;
  return {
    label: `encryption version ${version}`,
    tag: `migrated-encryption-to-${version}`,
    rewrites: (blob) => codecById(blob) === undefined || encrypts(blob) !== encrypts(codec),
    reuse: [codec],
  };
}

/** Every unencrypted blob of another codec than the configured one is rewritten; encrypted ones are kept. */
function compressionTarget(engine: Engine): Target {
  const { codec } = engine.settings;
  if (encrypts(codec)) {
    throw new BackyError(
      "With encryption_version 1 every new blob is compressed and encrypted; use migrate-encryption instead.",
    );
  }
  const compression = codec === PLAIN_CODEC ? "none" : "zstd";
  return {
    label: `compression ${compression}`,
    tag: `migrated-compression-to-${compression}`,
    rewrites: (blob) => codecById(blob) === undefined || (!encrypts(blob) && blob !== codec),
    reuse: [codec],
  };
}

/** `migrate-encryption`: migrates version `uid`; returns the new version's uid. */
export function migrateEncryption(engine: Engine, uid: string): Promise<string> {
  return migrate(engine, uid, encryptionTarget);
}

/** `migrate-compression`: migrates version `uid`; returns the new version's uid. */
export function migrateCompression(engine: Engine, uid: string): Promise<string> {
  return migrate(engine, uid, compressionTarget);
}

async function migrate(engine: Engine, uid: string, target: (engine: Engine) => Target): Promise<string> {
  const { catalog, locks } = engine;
  await using _lease = await locks.acquire(uid, "shared", (holder) => versionLocked(uid, holder));
  const old = await catalog.getVersion(uid);
  if (old.inProgress) {
    throw new BackyError(`Version ${uid} is incomplete (its backup never finished); it cannot be migrated.`);
  }
  const versionEngine = engineFor(engine, old);
  return await new Migration(versionEngine, old, target(versionEngine)).run();
}

/** A blob written for the new version whose reference is not in the catalog yet (id 0 until recorded). */
interface Replacement {
  ref: NewBlobRef;
  blocks: number[];
  id: number;
}

const MISSING = "missing";

class Migration {
  private readonly replaced = new Map<number, Replacement | typeof MISSING>();
  private readonly written: Replacement[] = [];
  private missingBlocks = 0;
  private version!: Version;
  private map!: BlockMap;

  constructor(private readonly engine: Engine, private readonly old: Version, private readonly target: Target) {}

  async run(): Promise<string> {
    const { catalog, locks, settings } = this.engine;
    const oldMap = await catalog.blockMap(this.old.uid);
    const refs = await catalog.refs(new Set(oldMap));
    this.version = await catalog.createVersion({
      name: this.old.name,
      snapshotName: this.old.snapshotName,
      size: this.old.size,
      sizeBytes: this.old.sizeBytes,
      blockSize: settings.blockSize,
      hashFunction: settings.hashFunction,
    });
    const uid = this.version.uid;
    await using _lease = await locks.acquire(uid, "exclusive", (holder) => versionLocked(uid, holder));
    await this.copyBlocks(oldMap, refs);
    return await this.finish();
  }

  /** Fills the new block map; on an unexpected failure the half-made version is removed again. */
  private async copyBlocks(oldMap: BlockMap, refs: Map<number, BlobRef>): Promise<void> {
    const { catalog } = this.engine;
    try {
      if (this.old.expire !== null) await catalog.setExpire(this.version.uid, this.old.expire);
      this.map = new Uint32Array(oldMap.length);
      for (let id = 0; id < oldMap.length; id++) {
        await this.migrateBlock(id, refs.get(oldMap[id])!);
        this.reportProgress(id + 1, oldMap.length);
      }
      await this.checkpoint();
    } catch (error) {
      await catalog.removeVersion(this.version.uid);
      throw error;
    }
  }

  private async finish(): Promise<string> {
    const { catalog, log } = this.engine;
    const { uid } = this.version;
    await catalog.addTags(uid, [...this.old.tags, this.target.tag]);
    if (this.missingBlocks > 0) {
      throw new BackyError(
        `Migration of version ${this.old.uid} to ${this.target.label} is incomplete: ` +
          `${this.missingBlocks} blocks could not be read. The new version ${uid} lacks them and stays invalid.`,
      );
    }
    await commitWithMeta(this.engine, uid, this.map);
    log.info(`Migrated version ${this.old.uid} to ${this.target.label}. New version: ${uid}.`);
    return uid;
  }

  private reportProgress(done: number, total: number): void {
    if (done % PROGRESS_EVERY !== 0) return;
    this.engine.log.info(
      `Migration to ${this.target.label} for version ${this.old.uid} to new version ` +
        `${this.version.uid}, ${done}/${total} blocks done.`,
    );
  }

  private async migrateBlock(id: number, ref: BlobRef): Promise<void> {
    if (ref.uid === null || !this.target.rewrites(ref.encVersion)) {
      this.map[id] = ref.id;
      return;
    }
    const known = this.replaced.get(ref.id);
    if (known === MISSING) this.missingBlocks++;
    else if (known?.id) this.map[id] = known.id;
    else if (known) known.blocks.push(id);
    else if (!await this.reuse(id, ref)) await this.rewrite(id, ref);
  }

  /** Points the block at an existing valid blob of the target version with the same content, if any. */
  private async reuse(id: number, ref: BlobRef): Promise<boolean> {
    const { catalog, settings } = this.engine;
    if (!settings.deduplication || !ref.checksum) return false;
    const key = { checksum: ref.checksum, size: ref.size };
    const [existing] = await catalog.findDedup([key], this.target.reuse, this.version.uid);
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
    const written = await this.engine.store.write(uid, data);
    if (written.encVersion === PLAIN_CODEC && ref.encVersion === PLAIN_CODEC) {
      // The block does not compress: the old plain blob is what a new one would be.
      await this.engine.store.remove(uid);
      this.map[id] = ref.id;
      this.replaced.set(ref.id, { ref, blocks: [], id: ref.id });
      return;
    }
    const replacement: Replacement = {
      ref: { uid, checksum: ref.checksum, size: ref.size, ...written },
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
      data = await store.read(ref.uid!, ref, new ArrayBuffer(settings.blockSize));
    } catch (error) {
      if (!(error instanceof BlobUnreadableError)) throw error;
      if (error instanceof BlobNotFoundError) log.error(`Key not found: ${ref.uid}. Marking block as invalid.`);
      else log.error(`${error.message} Marking block as invalid.`);
      await invalidateBlob(this.engine, ref.uid!, ref.checksum);
      return null;
    }
    const checksum = createHash(settings.hashFunction).update(data).digest("hex");
    if (data.length === ref.size && checksum === ref.checksum) return data;
    log.error(
      `Checksum mismatch during migration for block ${id} (UID ${ref.uid}) (is: ${checksum} should-be: ` +
        `${ref.checksum}). Marking block as invalid.`,
    );
    await invalidateBlob(this.engine, ref.uid!, ref.checksum);
    return null;
  }

  /** Makes the written blobs durable, then records them and saves the draft block map in one transaction. */
  private async checkpoint(): Promise<void> {
    const { catalog, store } = this.engine;
    const batch = this.written.splice(0);
    if (batch.length > 0) await store.flush();
    await catalog.withTransaction(async (tx) => {
      const ids = await tx.addRefs(batch.map((replacement) => replacement.ref));
      batch.forEach((replacement, i) => {
        replacement.id = ids[i];
        for (const block of replacement.blocks) this.map[block] = replacement.id;
      });
      await tx.saveDraft(this.version.uid, this.map);
    });
  }
}
