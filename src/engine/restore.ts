/**
 * The restore pipeline: zero the sparse blocks (phase 1), then read every stored block, verify
 * its checksum on the hash workers and write it to the target (phase 2). A block whose checksum does not
 * match is still written, reported and invalidated (with every version sharing its blob); a blob that cannot
 * be read is reported, invalidated, and the restore goes on with the rest. Either ends the restore with
 * exit 6 once every good block is written; the target is made durable before the restore reports anything.
 *
 * A signal stops the restore between blocks: the blocks in flight are written, the target is flushed, and
 * the report names the `restore -c` command that continues from the first block not restored.
 */
import type { BlobRef, BlobRole, BlockMapRole, VersionRole } from "../catalog/catalog.ts";
import type { Target } from "../io/io.ts";
import { BlobNotFoundError, BlobUnreadableError } from "../store/block_store.ts";
import { BackyError, Exit, versionLocked } from "../util/errors.ts";
import type { EngineWith } from "./engine.ts";

/** The catalog roles a restore uses. */
export type RestoreCatalog = VersionRole & BlockMapRole & BlobRole;
type Engine = EngineWith<RestoreCatalog>;
import { Progress } from "./progress.ts";
import { invalidateBlob } from "./invalidate.ts";
import { BufferPool } from "./buffers.ts";
import { forEachInWindow } from "./task_group.ts";
import { checksumOf } from "./hasher.ts";
import { engineFor } from "./version_layout.ts";
import { unknownRefMessage, unknownRefs } from "./unknown_refs.ts";

/**
 * Makes sure the block's bytes are in `buffer` (a backend may have returned other memory); returns their
 * length. A blob longer than a block is cut to the buffer, and then fails its checksum like any bad blob.
 */
function intoBuffer(data: Uint8Array, buffer: ArrayBuffer): number {
  if (data.buffer === buffer && data.byteOffset === 0) return data.length;
  const length = Math.min(data.length, buffer.byteLength);
  new Uint8Array(buffer).set(data.subarray(0, length));
  return length;
}

export interface RestoreRequest {
  uid: string;
  targetUrl: string;
  sparse: boolean;
  force: boolean;
  continueFrom: number;
}

export async function restore(configured: Engine, request: RestoreRequest): Promise<number> {
  const { catalog, locks } = configured;
  await using _lease = await locks.acquire(request.uid, "shared", (holder) => versionLocked(request.uid, holder));
  const version = await catalog.getVersion(request.uid);
  const engine = engineFor(configured, version);
  const map = await catalog.blockMap(version.uid);
  checkContinueFrom(request.continueFrom, version.uid, map.length);
  const refs = await catalog.refs(new Set(map.filter((id) => id !== 0)));
  const unknown = unknownRefs(map, refs).filter(({ block }) => block >= request.continueFrom);
  for (const entry of unknown) engine.log.error(unknownRefMessage(version.uid, entry));
  const missing = map.reduce((count, id) => count + (id === 0 ? 1 : 0), 0);
  engine.report?.add("blocks_missing", missing);
  if (missing > 0) {
    engine.log.warning(
      `Version ${version.uid} is incomplete: ${missing} of its ${map.length} blocks were never backed up; ` +
        "the target keeps whatever those regions held.",
    );
  }
  const target = await engine.openTarget(request.targetUrl, version.sizeBytes, request.force);
  try {
    const reads = await zeroSparseBlocks(engine, request, target, map, refs);
    await stopIfInterrupted(engine, request, target, request.continueFrom);
    const damaged = await restoreData(engine, request, target, reads, map.length);
    await target.flush();
    if (!damaged && unknown.length === 0) return Exit.ok;
    engine.report?.fail("Some blocks could not be read or failed their checksum.");
    return Exit.dataBackend;
  } finally {
    await target.close();
  }
}

/** `-c N` must name a block of the version (0 is fine for an empty one): anything else restores nothing. */
function checkContinueFrom(continueFrom: number, uid: string, blocks: number): void {
  if (continueFrom === 0 || (continueFrom > 0 && continueFrom < blocks)) return;
  const ids = blocks === 0 ? "it has no blocks" : `block ids 0 to ${blocks - 1}`;
  throw new BackyError(`-c/--continue-from ${continueFrom} is not a block of version ${uid} (${ids}).`);
}

interface BlockRead {
  id: number;
  ref: BlobRef;
}

async function zeroSparseBlocks(
  engine: Engine,
  request: RestoreRequest,
  target: Target,
  map: Uint32Array,
  refs: Map<number, BlobRef>,
): Promise<BlockRead[]> {
  const { blockSize } = engine.settings;
  const progress = new Progress(engine, `Restore phase 1/2 (sparse) to ${request.targetUrl}`);
  const reads: BlockRead[] = [];
  let written = 0;
  for (let id = request.continueFrom; id < map.length; id++) {
    if (engine.interruption.requested) break;
    const ref = refs.get(map[id]);
    if (!ref) continue;
    if (ref.uid !== null) reads.push({ id, ref });
    else {
      engine.report?.add("blocks_sparse");
      engine.report?.add("bytes_sparse", ref.size);
      if (!request.sparse) {
        await target.writeZeroes(id * blockSize, ref.size);
        written += ref.size;
      }
    }
    progress.update({ done: id - request.continueFrom + 1, total: map.length - request.continueFrom, bytes: written });
  }
  progress.finish();
  return reads;
}

/**
 * "Last ID" (shown in the restore's data-phase progress lines): the largest block id k such that every block
 * from the continue-from id to k is done, so that an interrupted restore can be resumed with `-c k`.
 */
class LastId {
  private readonly pending: Uint8Array;
  private next: number;

  constructor(private readonly first: number, blocks: number, reads: BlockRead[]) {
    this.pending = new Uint8Array(Math.max(0, blocks - first));
    for (const read of reads) this.pending[read.id - first] = 1;
    this.next = 0;
    this.advance();
  }

  done(id: number): void {
    this.pending[id - this.first] = 0;
    this.advance();
  }

  private advance(): void {
    while (this.next < this.pending.length && this.pending[this.next] === 0) this.next++;
  }

  toString(): string {
    return this.next === 0 ? "None" : String(this.first + this.next - 1);
  }

  /** The first block not restored yet: where a continued restore must start. */
  get resumeFrom(): number {
    return this.first + this.next;
  }
}

/** After a signal: makes what was written durable and reports how to continue from `resumeFrom`. */
async function stopIfInterrupted(
  engine: Engine,
  request: RestoreRequest,
  target: Target,
  resumeFrom: number,
): Promise<void> {
  if (!engine.interruption.requested) return;
  await target.flush();
  const sparse = request.sparse ? ["-s"] : [];
  throw engine.interruption.stopped(`restore of version ${request.uid} to ${request.targetUrl} is incomplete`, {
    advice: "continue it with",
    args: ["restore", ...sparse, "-f", "-c", String(resumeFrom), request.uid, request.targetUrl],
  });
}

/** Phase 2; returns true when some block could not be read or failed its checksum. */
async function restoreData(
  engine: Engine,
  request: RestoreRequest,
  target: Target,
  reads: BlockRead[],
  blocks: number,
): Promise<boolean> {
  const { blockSize, readAhead } = engine.settings;
  const window = Math.max(readAhead, engine.hasher().parallelism * 2 + 2);
  const progress = new Progress(engine, `Restore phase 2/2 (data) to ${request.targetUrl}`);
  const lastId = new LastId(request.continueFrom, blocks, reads);
  let damaged = false;
  let bytes = 0;
  let done = 0;
  const buffers = new BufferPool(blockSize, window);
  const restoreBlock = async ({ id, ref }: BlockRead) => {
    if (engine.interruption.requested) return;
    let buffer = await buffers.take();
    try {
      let length: number;
      try {
        length = intoBuffer(await engine.store.read(ref.uid!, ref, buffer), buffer);
      } catch (error) {
        if (!(error instanceof BlobUnreadableError)) throw error;
        engine.log.error(`Exception during reading from the data backend: ${error.message}`);
        const problem = error instanceof BlobNotFoundError ? "not found" : "unreadable";
        engine.report?.invalid(id, ref.uid, `${problem}: ${error.message}`);
        await invalidateBlob(engine, ref.uid!, ref.checksum);
        damaged = true;
        return;
      }
      const hashed = await engine.hasher().hash(buffer, length);
      buffer = hashed.buffer;
      const actual = await checksumOf(hashed, length, engine.settings.hashFunction);
      if (length !== ref.size || actual !== ref.checksum) {
        engine.log.error(
          `Checksum mismatch during restore for block ${id} (is: ${actual} should-be: ` +
            `${ref.checksum}, block-valid: ${ref.valid ? 1 : 0}). Block restored is invalid. Continuing.`,
        );
        engine.report?.invalid(id, ref.uid, `checksum mismatch (is: ${actual} should-be: ${ref.checksum})`);
        await invalidateBlob(engine, ref.uid!, ref.checksum);
        damaged = true;
      }
      await writeBlock(target, id, id * blockSize, new Uint8Array(buffer, 0, length));
      bytes += length;
      engine.report?.add("blocks_written");
      engine.report?.add("bytes_written", length);
      lastId.done(id);
    } finally {
      buffers.give(buffer);
    }
  };
  try {
    await forEachInWindow(engine.interruption.until(reads), window, restoreBlock, (inFlight) => {
      const writeQueue = (inFlight / window) * 100;
      progress.update({ done: ++done, total: reads.length, bytes, writeQueue, extra: `Last ID: ${lastId}` });
    });
  } finally {
    progress.finish();
    buffers.release();
  }
  await stopIfInterrupted(engine, request, target, lastId.resumeFrom);
  return damaged;
}

async function writeBlock(target: Target, id: number, offset: number, data: Uint8Array): Promise<void> {
  try {
    await target.write(offset, data);
  } catch (error) {
    throw new BackyError(`Cannot write block ${id} to ${target.url}: ${(error as Error).message}`);
  }
}
