/**
 * Random access to a version's data, for the FUSE mount and the NBD server: a {@link VersionImage} reads one
 * block at a time through the engine's store stack (file or S3, encryption, compression), checks it against
 * its checksum with the version's own hash function, and keeps it in a {@link BlockCache} shared by every
 * version served (blocks that share a blob share an entry). A block that fails its check is never served: the
 * read fails with an {@link UnreadableBlockError} and one log line, and a blob found bad is invalidated with
 * every version sharing it, as a restore would.
 *
 * Sequential readers (a kernel reading a file page by page, `nbdcopy`) get the next blocks read ahead.
 */
import { BlobUnreadableError } from "../store/block_store.ts";
import type { BlobRef, BlobRole, BlockMapRole, Version } from "../catalog/catalog.ts";
import type { EngineWith } from "./engine.ts";

/** The catalog roles a block reader uses. */
export type ReaderCatalog = BlockMapRole & BlobRole;
type ReaderEngine = EngineWith<ReaderCatalog>;
import { checksumOf } from "./hasher.ts";
import { invalidateBlob } from "./invalidate.ts";
import { engineFor } from "./version_layout.ts";

/** A byte range of a version that cannot be served: the caller answers with an I/O error. */
export class UnreadableBlockError extends Error {
  constructor(readonly blockId: number, message: string) {
    super(message);
    this.name = "UnreadableBlockError";
  }
}

/** A run of blocks in {@link Image.extents}: `zero` when it reads as zeros without being stored. */
export interface Extent {
  length: number;
  zero: boolean;
}

/** What the servers read (and, with copy-on-write, write). */
export interface Image {
  readonly uid: string;
  readonly sizeBytes: number;
  /** Bytes `[offset, offset + length)`, which must lie inside the image. */
  read(offset: number, length: number): Promise<Uint8Array>;
  /** Present only on writable (copy-on-write) images. */
  write?(offset: number, data: Uint8Array): Promise<void>;
  /** Consecutive runs covering `[offset, offset + length)` (the last may end past it). */
  extents(offset: number, length: number): Extent[];
  close(): void;
}

/** A bounded least-recently-used cache of verified blocks by blob-reference id; concurrent loads coalesce. */
export class BlockCache {
  private readonly entries = new Map<number, Promise<Uint8Array>>();

  constructor(readonly capacity: number) {}

  /** The cached block, or the one `load` gives (cached once it succeeds; a failure is not remembered). */
  get(key: number, load: () => Promise<Uint8Array>): Promise<Uint8Array> {
    const cached = this.entries.get(key);
    if (cached) {
      this.entries.delete(key);
      this.entries.set(key, cached);
      return cached;
    }
    const loading = load();
    this.entries.set(key, loading);
    loading.catch(() => {
      if (this.entries.get(key) === loading) this.entries.delete(key);
    });
    while (this.entries.size > this.capacity) this.entries.delete(this.entries.keys().next().value!);
    return loading;
  }

  has(key: number): boolean {
    return this.entries.has(key);
  }
}

/** Bytes of verified blocks a server keeps: enough for read-ahead and several readers, never the image. */
const CACHE_BYTES = 128 * 1048576;

/** A cache for blocks of `blockSize` bytes within the default memory budget (at least 8 blocks). */
export function defaultBlockCache(blockSize: number): BlockCache {
  return new BlockCache(Math.max(8, Math.floor(CACHE_BYTES / blockSize)));
}

const zeroBlocks = new Map<number, Uint8Array>();

/** A shared all-zero block of `length` bytes (never written to). */
function zeros(length: number): Uint8Array {
  let block = zeroBlocks.get(length);
  if (!block) zeroBlocks.set(length, block = new Uint8Array(length));
  return block;
}

/** A finished version's bytes, block by block. */
export class VersionImage implements Image {
  readonly uid: string;
  readonly sizeBytes: number;
  readonly blockSize: number;
  /** Blocks found bad (or never backed up), with the reason: they fail at once on later reads. */
  private readonly failed = new Map<number, string>();
  private lastBlock = -2;
  private readonly readAhead: number;

  private constructor(
    private readonly engine: ReaderEngine,
    readonly version: Version,
    private readonly map: Uint32Array,
    private readonly refs: Map<number, BlobRef>,
    private readonly cache: BlockCache,
  ) {
    this.uid = version.uid;
    this.sizeBytes = version.sizeBytes;
    this.blockSize = engine.settings.blockSize;
    this.readAhead = Math.max(1, Math.min(engine.settings.readAhead, Math.floor(cache.capacity / 4)));
  }

  /** Opens `version` with its own block size and hash function; throws when its layout does not fit. */
  static async open(configured: ReaderEngine, version: Version, cache: BlockCache): Promise<VersionImage> {
    const engine = engineFor(configured, version);
    const map = await configured.catalog.blockMap(version.uid);
    const refs = await configured.catalog.refs(new Set(map.filter((id) => id !== 0)));
    return new VersionImage(engine, version, map, refs, cache);
  }

  get blocks(): number {
    return this.map.length;
  }

  /** The length of block `id` (the last one may be short). */
  blockLength(id: number): number {
    return Math.min(this.blockSize, this.sizeBytes - id * this.blockSize);
  }

  /** True when block `id` is a sparse block of the backup (reads as zeros). */
  isSparse(id: number): boolean {
    const ref = this.refs.get(this.map[id]);
    return ref !== undefined && ref.uid === null;
  }

  /** Block `id`, verified; the memory is shared with the cache, so callers must not change it. */
  block(id: number): Promise<Uint8Array> {
    const sequential = id === this.lastBlock + 1;
    this.lastBlock = id;
    const block = this.fetch(id);
    if (sequential) this.prefetchAfter(id);
    return block;
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    const first = Math.floor(offset / this.blockSize);
    const last = Math.floor((offset + length - 1) / this.blockSize);
    if (length <= 0) return new Uint8Array(0);
    if (first === last) {
      const start = offset - first * this.blockSize;
      return (await this.block(first)).subarray(start, start + length);
    }
    const blocks = await Promise.all(Array.from({ length: last - first + 1 }, (_, i) => this.block(first + i)));
    const result = new Uint8Array(length);
    blocks.forEach((block, i) => {
      const blockStart = (first + i) * this.blockSize;
      const from = Math.max(offset, blockStart) - blockStart;
      const to = Math.min(offset + length, blockStart + block.length) - blockStart;
      result.set(block.subarray(from, to), blockStart + from - offset);
    });
    return result;
  }

  extents(offset: number, length: number): Extent[] {
    const extents: Extent[] = [];
    const end = Math.min(offset + length, this.sizeBytes);
    for (let id = Math.floor(offset / this.blockSize); id * this.blockSize < end; id++) {
      const blockEnd = Math.min(end, id * this.blockSize + this.blockLength(id));
      const run = blockEnd - Math.max(offset, id * this.blockSize);
      const zero = this.isSparse(id);
      const previous = extents.at(-1);
      if (previous && previous.zero === zero) previous.length += run;
      else extents.push({ length: run, zero });
    }
    return extents;
  }

  close(): void {}

  private fetch(id: number): Promise<Uint8Array> {
    const reason = this.failed.get(id);
    if (reason !== undefined) return Promise.reject(new UnreadableBlockError(id, reason));
    const ref = this.refs.get(this.map[id]);
    if (!ref) {
      return this.fail(id, null, `Block ${id} of version ${this.uid} was never backed up`).then((error) => {
        throw error;
      });
    }
    if (ref.uid === null) return Promise.resolve(zeros(this.blockLength(id)));
    return this.cache.get(ref.id, () => this.load(id, ref));
  }

  private prefetchAfter(id: number): void {
    for (let next = id + 1; next <= id + this.readAhead && next < this.map.length; next++) {
      const ref = this.refs.get(this.map[next]);
      if (!ref || ref.uid === null || this.cache.has(ref.id) || this.failed.has(next)) continue;
      // A failure is reported when the block is really read.
      this.fetch(next).catch(() => {});
    }
  }

  private async load(id: number, ref: BlobRef): Promise<Uint8Array> {
    const { engine } = this;
    const uid = ref.uid!;
    let buffer = new ArrayBuffer(this.blockSize);
    let data: Uint8Array;
    try {
      data = await engine.store.read(uid, ref, buffer);
    } catch (error) {
      if (!(error instanceof BlobUnreadableError)) {
        // Not the blob's fault (a store that cannot be reached): reported, not remembered, nothing invalidated.
        const message = `Cannot read block ${id} of version ${this.uid} (blob ${uid}): ${(error as Error).message}`;
        engine.log.error(message);
        throw new UnreadableBlockError(id, message);
      }
      throw await this.fail(id, ref, `Cannot read block ${id} of version ${this.uid}: ${error.message}`);
    }
    const length = Math.min(data.length, buffer.byteLength);
    if (data.buffer !== buffer || data.byteOffset !== 0) new Uint8Array(buffer).set(data.subarray(0, length));
    const hashed = await engine.hasher().hash(buffer, length);
    buffer = hashed.buffer;
    const actual = await checksumOf(hashed, length, engine.settings.hashFunction);
    if (data.length !== ref.size || actual !== ref.checksum) {
      throw await this.fail(
        id,
        ref,
        `Checksum mismatch reading block ${id} of version ${this.uid} (UID ${uid}) (is: ${actual} should-be: ` +
          `${ref.checksum}, size is: ${data.length} should-be: ${ref.size}). Not serving it.`,
      );
    }
    return new Uint8Array(buffer, 0, length);
  }

  /** Logs a bad block once, remembers it, and invalidates its blob (when it has one). */
  private async fail(id: number, ref: BlobRef | null, message: string): Promise<UnreadableBlockError> {
    if (!this.failed.has(id)) {
      this.failed.set(id, message);
      this.engine.log.error(message);
      if (ref?.uid) await invalidateBlob(this.engine, ref.uid, ref.checksum);
    }
    return new UnreadableBlockError(id, message);
  }
}
