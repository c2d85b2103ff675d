/**
 * Scrub: reads a version's blobs back and verifies size and checksum, optionally also against
 * the source (deep scrub). Each distinct blob is checked once, however many blocks share it; a missing,
 * unreadable, truncated or corrupt blob is reported once, invalidated with every version sharing it,
 * and the rest is still checked. A source that differs is reported without invalidating anything: the
 * backup is fine. A signal stops the scrub between blocks; an unfinished scrub marks nothing valid (blobs it
 * found bad before the signal stay invalidated).
 */
import { Buffer } from "node:buffer";
import type { BlobRef, BlobRole, BlockMapRole, VersionRole } from "../catalog/catalog.ts";
import type { Source } from "../io/io.ts";
import { BlobNotFoundError, BlobUnreadableError } from "../store/block_store.ts";
import { Exit, versionLocked } from "../util/errors.ts";
import type { EngineWith } from "./engine.ts";

/** The catalog roles a scrub uses. */
export type ScrubCatalog = VersionRole & BlockMapRole & BlobRole;
type Engine = EngineWith<ScrubCatalog>;
import { BufferPool } from "./buffers.ts";
import { forEachInWindow } from "./task_group.ts";
import { unknownRefMessage, unknownRefs } from "./unknown_refs.ts";
import { invalidateBlob } from "./invalidate.ts";
import { Progress } from "./progress.ts";
import { checksumOf } from "./hasher.ts";
import { engineFor } from "./version_layout.ts";
import { markStale } from "../meta/stale.ts";

export interface ScrubRequest {
  uid: string;
  sourceUrl?: string;
  percentile: number;
}

interface BlockCheck {
  id: number;
  ref: BlobRef;
}

export async function scrub(configured: Engine, request: ScrubRequest): Promise<number> {
  const { catalog, locks, log } = configured;
  await using _lease = await locks.acquire(request.uid, "shared", (holder) => versionLocked(request.uid, holder));
  const version = await catalog.getVersion(request.uid);
  const engine = engineFor(configured, version);
  const map = await catalog.blockMap(version.uid);
  if (version.inProgress || map.length !== version.size || map.includes(0)) {
    log.error("Version is incomplete.");
    await catalog.setVersionValid(version.uid, false);
    markStale(engine, [version.uid]);
    log.info(`Marked version invalid (UID ${version.uid})`);
    return failed(engine, "Version is incomplete.");
  }
  const refs = await catalog.refs(new Set(map));
  const unknown = unknownRefs(map, refs);
  if (unknown.length > 0) {
    for (const entry of unknown) log.error(unknownRefMessage(version.uid, entry));
    await catalog.setVersionValid(version.uid, false);
    markStale(engine, [version.uid]);
    log.info(`Marked version invalid (UID ${version.uid})`);
    return failed(engine, unknownRefMessage(version.uid, unknown[0]));
  }
  // Against a source every block is compared, even blocks that share a blob with an earlier one.
  const checks = selectChecks(engine, map, refs, request.percentile, request.sourceUrl === undefined);
  const source = request.sourceUrl ? await engine.openSource(request.sourceUrl) : null;
  try {
    if (source && source.size !== version.sizeBytes) {
      // Every block would differ; one line says why instead.
      const message = `Source ${request.sourceUrl} has ${source.size} bytes, but version ${version.uid} has ` +
        `${version.sizeBytes}: not comparing them; nothing was checked.`;
      log.error(message);
      return failed(engine, message);
    }
    const run = new ScrubRun(engine, source, `Scrubbing ${version.name} (${version.uid})`);
    await run.check(checks);
    if (engine.interruption.requested) throw interrupted(engine, request, run, checks.length);
    if (run.blobProblems === 0 && run.sourceProblems === 0) {
      const complete = request.percentile >= 100;
      const invalidRefs = [...refs.values()].filter((ref) => !ref.valid).map((ref) => ref.id);
      // Only what changes is written: a clean scrub of a valid version needs no write lock at all.
      // Other versions sharing revalidated blobs keep them invalid in their objects until those are written
      // again (check-store --repair): safe, since a rebuilt catalog then never deduplicates onto them.
      if (complete && invalidRefs.length > 0) {
        await catalog.revalidate(invalidRefs);
        markStale(engine, [version.uid]);
      }
      if (complete || invalidRefs.length === 0) {
        if (!version.valid) {
          await catalog.setVersionValid(version.uid, true);
          markStale(engine, [version.uid]);
        }
        log.info(`Marked version valid: ${version.uid}`);
      }
      return Exit.ok;
    }
    const message = run.blobProblems > 0
      ? `Marked version invalid because it has errors: ${version.uid}`
      : `Version ${version.uid} differs from its source; the backup itself is intact and stays as it was.`;
    log.error(message);
    return failed(engine, message);
  } finally {
    await source?.close();
  }
}

/** Exit 20, with the reason for the result object. */
function failed(engine: Engine, reason: string): number {
  engine.report?.fail(reason);
  return Exit.scrubFailed;
}

function interrupted(engine: Engine, request: ScrubRequest, run: ScrubRun, total: number): Error {
  const unit = request.sourceUrl === undefined ? "blobs" : "blocks";
  const found = run.blobProblems > 0
    ? `found ${run.blobProblems} bad blobs and marked the version invalid`
    : "its valid flag is unchanged";
  const source = request.sourceUrl !== undefined ? ["-s", request.sourceUrl] : [];
  const percentile = request.percentile < 100 ? ["-p", String(request.percentile)] : [];
  return engine.interruption.stopped(
    `scrub of version ${request.uid} stopped after ${run.checked} of ${total} ${unit}; ${found}`,
    { advice: "scrub it again with", args: ["scrub", ...source, ...percentile, request.uid] },
  );
}

/** The blocks to read: stored ones (each distinct blob once when `oncePerBlob`), sampled by percentile. */
function selectChecks(
  engine: Engine,
  map: Uint32Array,
  refs: Map<number, BlobRef>,
  percentile: number,
  oncePerBlob: boolean,
): BlockCheck[] {
  const checks: BlockCheck[] = [];
  const seen = new Set<number>();
  for (let id = 0; id < map.length; id++) {
    const ref = refs.get(map[id])!;
    if (ref.uid === null && oncePerBlob) {
      engine.log.debug(`Scrub of block ${id} (UID None) skipped (sparse).`);
      continue;
    }
    if (percentile < 100 && Math.floor(Math.random() * 100) + 1 > percentile) {
      engine.log.debug(`Scrub of block ${id} (UID ${ref.uid}) skipped (percentile is ${percentile}).`);
      continue;
    }
    if (oncePerBlob && seen.has(ref.id)) continue;
    seen.add(ref.id);
    checks.push({ id, ref });
  }
  return checks;
}

class ScrubRun {
  blobProblems = 0;
  sourceProblems = 0;
  /** Checks started (and, once {@link check} returns, finished). */
  checked = 0;
  private readonly buffers: BufferPool;
  private readonly progress: Progress;
  private bytes = 0;

  constructor(private readonly engine: Engine, private readonly source: Source | null, message: string) {
    const { blockSize, readAhead } = engine.settings;
    this.buffers = new BufferPool(blockSize, Math.max(readAhead, engine.hasher().parallelism * 2 + 2));
    this.progress = new Progress(engine, message);
  }

  async check(checks: BlockCheck[]): Promise<void> {
    this.engine.report?.declare("checked", "bytes_read", "invalid_blobs", "source_mismatches");
    let done = 0;
    try {
      await forEachInWindow(
        this.engine.interruption.until(checks),
        this.buffers.capacity,
        (check) => this.checkBlock(check),
        () => {
          const readQueue = (this.buffers.inUse / this.buffers.capacity) * 100;
          this.progress.update({ done: ++done, total: checks.length, bytes: this.bytes, readQueue });
        },
      );
    } finally {
      this.progress.finish();
      this.buffers.release();
    }
  }

  private async checkBlock({ id, ref }: BlockCheck): Promise<void> {
    const { engine } = this;
    if (engine.interruption.requested) return;
    this.checked++;
    engine.report?.add("checked");
    let buffer = await this.buffers.take();
    try {
      if (ref.uid === null) {
        // A sparse block (only checked against a source): the source must read as zeros there.
        new Uint8Array(buffer, 0, ref.size).fill(0);
        return await this.compareWithSource(id, ref, buffer);
      }
      let data: Uint8Array;
      try {
        data = await engine.store.read(ref.uid!, ref, buffer);
      } catch (error) {
        if (!(error instanceof BlobUnreadableError)) throw error;
        engine.log.error(`Exception during reading from the data backend: ${error.message}`);
        const problem = error instanceof BlobNotFoundError ? "Blob not found" : "Blob unreadable";
        engine.log.error(`${problem}: block ${id} (UID ${ref.uid}, checksum ${ref.checksum}, size ${ref.size})`);
        const reason = error instanceof BlobNotFoundError ? "not found" : "unreadable";
        return this.blobFailed(id, ref, `${reason}: ${error.message}`);
      }
      this.bytes += data.length;
      engine.report?.add("bytes_read", data.length);
      if (data.length !== ref.size) {
        engine.log.error(`Blob has wrong size: ${ref.uid} is: ${data.length} should be: ${ref.size}`);
        return this.blobFailed(id, ref, `wrong size (is: ${data.length} should-be: ${ref.size})`);
      }
      if (data.buffer !== buffer || data.byteOffset !== 0) new Uint8Array(buffer).set(data);
      const hashed = await engine.hasher().hash(buffer, data.length);
      buffer = hashed.buffer;
      const actual = await checksumOf(hashed, data.length, engine.settings.hashFunction);
      if (actual !== ref.checksum) {
        engine.log.error(
          `Checksum mismatch during scrub for block ${id} (UID ${ref.uid}) (is: ${actual} ` +
            `should-be: ${ref.checksum}).`,
        );
        return this.blobFailed(id, ref, `checksum mismatch (is: ${actual} should-be: ${ref.checksum})`);
      }
      if (this.source) await this.compareWithSource(id, ref, buffer);
      engine.log.debug(`Scrub of block ${id} (UID ${ref.uid}) ok.`);
    } finally {
      this.buffers.give(buffer);
    }
  }

  private async blobFailed(id: number, ref: BlobRef, reason: string): Promise<void> {
    this.blobProblems++;
    this.engine.report?.add("invalid_blobs");
    this.engine.report?.invalid(id, ref.uid, reason);
    await invalidateBlob(this.engine, ref.uid!, ref.checksum);
  }

  private async compareWithSource(id: number, ref: BlobRef, backup: ArrayBuffer): Promise<void> {
    const { blockSize } = this.engine.settings;
    const fromSource = new Uint8Array(ref.size);
    const length = await this.source!.read(id * blockSize, fromSource);
    const same = length === ref.size && Buffer.from(fromSource).equals(Buffer.from(backup, 0, ref.size));
    if (same) return;
    const hashed = await this.engine.hasher().hash(fromSource.buffer, length);
    const actual = await checksumOf(hashed, length, this.engine.settings.hashFunction);
    this.engine.log.error(
      `Source data has changed for block ${id} (UID ${ref.uid ?? "None"}) (is: ${actual} should-be: ` +
        `${ref.checksum ?? "None"}). NOT setting this block invalid, because the source looks wrong.`,
    );
    this.sourceProblems++;
    this.engine.report?.add("source_mismatches");
  }
}
