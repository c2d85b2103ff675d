/**
 * The backup's data phase: the planned reads go read → hash on the worker pool → deduplicate (in windows, see
 * dedup_window.ts) → write, and the written blobs' references enter the catalog in checkpoints, after the blobs
 * are durable, together with the draft block map now and then.
 */
import type {
  BackupStats,
  BlobRef,
  BlobRole,
  BlockMap,
  BlockMapRole,
  NewBlobRef,
  Transactional,
} from "../catalog/catalog.ts";
import type { Source } from "../io/io.ts";
import { BackyError } from "../util/errors.ts";
import { newBlobUid } from "../store/blob_uid.ts";
import { dedupCodecs } from "../store/codecs.ts";
import type { EngineWith } from "./engine.ts";
import { DedupWindow } from "./dedup_window.ts";
import { BufferPool } from "./buffers.ts";
import { TaskGroup } from "./task_group.ts";
import { Progress } from "./progress.ts";
import { checksumOf } from "./hasher.ts";

/** Blobs whose references are saved to the catalog together (one syncfs each time). */
const CHECKPOINT_BLOBS = 32;
const CHECKPOINT_MS = 5000;
/**
 * The draft block map is saved with the first batch, then at most this often: a save costs 4 bytes per block
 * of the image, so for a 1 TiB image (1 MiB per save) saving after every batch would write more catalog than
 * it protects.
 */
const DRAFT_MS = 2000;

/**
 * What the data phase does: after planning, every block whose map entry is still 0 is read; `checks` holds
 * the base reference that the sampled unhinted blocks among them must match. Nothing is kept per block
 * beyond the map itself, so planning a 1 TiB image costs its 1 MiB map and no more.
 */
export interface Plan {
  reads: number;
  checks: Map<number, BlobRef>;
}

/** The per-run counters of a stats row. */
export type Counters =
  & Omit<
    BackupStats,
    "versionUid" | "versionName" | "versionSizeBytes" | "versionSizeBlocks" | "durationSeconds" | "bytesStored"
  >
  & { bytesStored: number };

/** The catalog roles the data phase uses. */
type DataEngine = EngineWith<BlobRole & BlockMapRole & Transactional<BlobRole & BlockMapRole>>;

export type DataFailure =
  | { kind: "sanity"; id: number; length: number }
  | { kind: "write"; message: string }
  | { kind: "interrupted" };

function writeFailure(error: unknown): DataFailure {
  return { kind: "write", message: (error as Error).message };
}

/** A blob written in this run whose reference is not in the catalog yet. */
interface PendingBlob {
  ref: NewBlobRef;
  /** Blocks that use it; their map entries are filled when it is recorded. */
  blocks: number[];
  /** Catalog id once recorded; 0 before. */
  id: number;
  durable: boolean;
}

/** Step 9: the read → hash → dedup → write pipeline over the planned reads. */
export class DataPhase {
  private readonly pool: BufferPool;
  private readonly inRun = new Map<string, PendingBlob>();
  private readonly written: PendingBlob[] = [];
  /** Hashing, deduplicating and writing the blocks read; a failure here is a failed write. */
  private readonly processing = new TaskGroup();
  private failure: DataFailure | null = null;
  private lastCheckpoint = performance.now();
  private checkpoints: Promise<void> = Promise.resolve();
  /** When the draft was last saved; none yet, so that the first durable batch saves it. */
  private lastDraft = -Infinity;
  private readonly progress: Progress;
  /** Catalog lookups of existing blobs this run may deduplicate onto. */
  private readonly dedup: DedupWindow;
  /** Lookups on their way, by content: a block with the same content waits for the same answer. */
  private readonly lookups = new Map<string, Promise<BlobRef | null>>();
  private done = 0;

  constructor(
    private readonly engine: DataEngine,
    private readonly source: Source,
    private readonly uid: string,
    private readonly map: BlockMap,
    private readonly counters: Counters,
    private readonly sparseRef: (size: number) => Promise<number>,
  ) {
    const { blockSize, readAhead } = engine.settings;
    const hashing = engine.hasher().parallelism * 2 + 2;
    this.pool = new BufferPool(blockSize, Math.max(readAhead, hashing, (source.parallelReads ?? 1) + hashing));
    this.progress = new Progress(engine, `Backing up (2/2: Data) ${source.url}`);
    this.dedup = new DedupWindow(engine.catalog, dedupCodecs(engine.settings.codec, engine.settings.haveKey), uid);
  }

  async run(plan: Plan): Promise<DataFailure | null> {
    // Sources that serve reads in parallel (files, rbd) get up to `parallelReads` at once; others one by one.
    // A failed read fails the backup once every read and write in flight has ended.
    const reading = new TaskGroup(this.source.parallelReads ?? 1);
    let interrupted = false;
    try {
      for (let issued = 0, id = -1; issued < plan.reads; issued++) {
        if (this.failure || this.processing.failed) break;
        // The next unplanned block: entries behind it may fill meanwhile, entries ahead of it do not.
        id = this.map.indexOf(0, id + 1);
        if (id < 0) throw new Error(`backup planned ${plan.reads} reads but found only ${issued}`);
        await reading.room();
        if (reading.failed) break;
        const buffer = await this.pool.take();
        if (this.engine.interruption.requested) {
          this.pool.give(buffer);
          interrupted = true;
          break;
        }
        const expected = plan.checks.get(id);
        const blockId = id;
        reading.add(
          this.readBlock(blockId, buffer).then((length) =>
            this.processing.add(this.process(blockId, expected, buffer, length))
          ),
        );
        if (this.shouldCheckpoint()) this.checkpoint();
        this.reportProgress(plan.reads);
      }
      await reading.settle();
      await this.processing.settle().catch((error) => this.failure ??= writeFailure(error));
    } catch (error) {
      await reading.settle().catch(() => {});
      await this.processing.settle().catch(() => {});
      await this.checkpoint(true).catch(() => {});
      throw error;
    } finally {
      this.progress.finish();
      this.pool.release();
    }
    if (this.failure?.kind === "sanity") {
      await this.checkpoints.catch(() => {});
      return this.failure;
    }
    // A run that ends invalid keeps its draft for `backup -c`; a complete one is committed right after.
    await this.checkpoint(this.failure !== null || interrupted);
    return this.failure ?? (interrupted ? { kind: "interrupted" } : null);
  }

  private reportProgress(total: number): void {
    this.done++;
    this.progress.update({
      done: this.done,
      total,
      bytes: this.counters.bytesRead,
      readQueue: (this.pool.inUse / this.pool.capacity) * 100,
    });
  }

  private async readBlock(id: number, buffer: ArrayBuffer): Promise<number> {
    const { blockSize } = this.engine.settings;
    const expected = Math.min(blockSize, this.source.size - id * blockSize);
    let length: number;
    try {
      length = await this.source.read(id * blockSize, new Uint8Array(buffer, 0, expected));
    } catch (error) {
      this.pool.give(buffer);
      throw error;
    }
    if (length !== expected) {
      this.pool.give(buffer);
      throw new BackyError(
        `Source ${this.source.url} ended early: block ${id} has ${length} of ${expected} bytes (did it shrink?).`,
      );
    }
    this.counters.blocksRead++;
    this.counters.bytesRead += length;
    return length;
  }

  private async process(
    id: number,
    expected: BlobRef | undefined,
    buffer: ArrayBuffer,
    length: number,
  ): Promise<void> {
    const hashed = await this.engine.hasher().hash(buffer, length);
    const { checksum, zero } = hashed;
    let handedOn = false;
    try {
      const actual = expected ? await checksumOf(hashed, length, this.engine.settings.hashFunction) : null;
      if (expected && (actual !== expected.checksum || length !== expected.size)) {
        this.failure ??= { kind: "sanity", id, length };
        return;
      }
      if (zero) return await this.recordSparse(id, length);
      const blob = await this.reuseOrAdd(id, checksum!, length);
      if (blob === null) return;
      handedOn = true;
      await this.store(blob, hashed.buffer, length);
    } finally {
      if (!handedOn) this.pool.give(hashed.buffer);
    }
  }

  private async recordSparse(id: number, size: number): Promise<void> {
    this.map[id] = await this.sparseRef(size);
  }

  /**
   * Points the block at an existing blob with the same content (from the catalog or from this run) and gives
   * null, or gives the new blob to write for it. The new blob is registered at once, so that blocks with the
   * same content that waited for the same lookup use it instead of writing their own.
   */
  private async reuseOrAdd(id: number, checksum: string, size: number): Promise<PendingBlob | null> {
    if (!this.engine.settings.deduplication) return this.newBlob(id, checksum, size);
    if (this.reuseFromRun(id, checksum, size)) return null;
    const key = `${checksum} ${size}`;
    let lookup = this.lookups.get(key);
    if (!lookup) {
      lookup = this.dedup.find({ checksum, size });
      this.lookups.set(key, lookup);
      const forget = () => this.lookups.delete(key);
      lookup.then(forget, forget);
    }
    const existing = await lookup;
    if (existing) {
      this.map[id] = existing.id;
      return null;
    }
    return this.reuseFromRun(id, checksum, size) ? null : this.newBlob(id, checksum, size);
  }

  private newBlob(id: number, checksum: string, size: number): PendingBlob {
    const pending: PendingBlob = {
      ref: { uid: newBlobUid(), checksum, size, encVersion: 0, encEnvkey: null, encNonce: null },
      blocks: [id],
      id: 0,
      durable: false,
    };
    if (this.engine.settings.deduplication) this.inRun.set(checksum, pending);
    return pending;
  }

  /** Points the block at a blob this run writes (or wrote) with the same content. */
  private reuseFromRun(id: number, checksum: string, size: number): boolean {
    const pending = this.inRun.get(checksum);
    if (!pending || pending.ref.size !== size) return false;
    if (pending.id) this.map[id] = pending.id;
    else pending.blocks.push(id);
    return true;
  }

  private async store(pending: PendingBlob, buffer: ArrayBuffer, length: number): Promise<void> {
    const { uid, checksum } = pending.ref;
    try {
      const data = new Uint8Array(buffer, 0, length);
      const written = await this.engine.store.write(uid!, data);
      Object.assign(pending.ref, written);
      this.counters.bytesStored += written.storedSize;
    } catch (error) {
      if (this.inRun.get(checksum!) === pending) this.inRun.delete(checksum!);
      throw error;
    } finally {
      this.pool.give(buffer);
    }
    this.counters.blocksWritten++;
    this.counters.bytesWritten += length;
    this.written.push(pending);
  }

  private shouldCheckpoint(): boolean {
    return this.written.length >= CHECKPOINT_BLOBS ||
      (this.written.length > 0 && performance.now() - this.lastCheckpoint > CHECKPOINT_MS);
  }

  /**
   * Makes the written blobs durable, then records their references, claimed by this version so that no
   * cleanup touches them before the version is committed, and now and then the draft block map (what
   * `backup -c` continues from). Checkpoints run one after another in the background: the disk flushes
   * while the next blocks are hashed.
   */
  private checkpoint(forceDraft = false): Promise<void> {
    const batch = this.written.splice(0);
    this.lastCheckpoint = performance.now();
    if (batch.length === 0 && !forceDraft) return this.checkpoints;
    const { catalog, store } = this.engine;
    this.checkpoints = this.checkpoints.then(async () => {
      await store.flush();
      await catalog.withTransaction(async (tx) => {
        const ids = await tx.addRefs(batch.map((pending) => pending.ref), this.uid);
        batch.forEach((pending, i) => {
          pending.id = ids[i];
          for (const block of pending.blocks) this.map[block] = pending.id;
        });
        if (forceDraft || performance.now() - this.lastDraft >= DRAFT_MS) {
          await tx.saveDraft(this.uid, this.map);
          this.lastDraft = performance.now();
        }
      });
    });
    this.checkpoints.catch((error) => this.failure ??= writeFailure(error));
    return this.checkpoints;
  }
}
