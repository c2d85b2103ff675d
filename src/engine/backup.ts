/**
 * The backup pipeline: plan every block (read it, copy the base version's reference, or
 * record it sparse), then read → hash on the worker pool → deduplicate → write blobs, and record the
 * version's block map only for blobs that are durable.
 *
 * Crash safety: blobs are flushed (one syncfs per batch) before their references enter the catalog, and the
 * in-progress block map (the draft) is saved with the first batch and then every 2 s at most, so
 * a killed backup leaves an invalid version that `backup -c` completes from the last saved draft. The version
 * turns valid in the same transaction that commits its block map, after its metadata object is durable in the
 * block store. A signal stops the reads; the blobs in
 * flight are written, made durable and recorded with the draft before the run reports the `backup -c`
 * command that continues it.
 */
import type {
  BlobRef,
  BlobRole,
  BlockMap,
  BlockMapRole,
  StatsRole,
  Transactional,
  Version,
  VersionRole,
} from "../catalog/catalog.ts";
import type { Source } from "../io/io.ts";
import { BackyError, Exit, versionLocked } from "../util/errors.ts";
import { now } from "../util/clock.ts";
import type { EngineWith } from "./engine.ts";
import { type Counters, DataPhase, type Plan } from "./backup_data.ts";
import { type Hint, HINT_READ, HINT_SPARSE, markHintedBlocks, readHints } from "./hints.ts";
import { autoTags } from "./auto_tags.ts";
import { engineFor, isConfiguredLayout, layoutOf } from "./version_layout.ts";
import { humanize } from "../output/humanize.ts";
import { type CommitCatalog, commitWithMeta } from "../meta/sync.ts";

export interface BackupRequest {
  sourceUrl: string;
  name: string;
  snapshotName: string;
  hintsPath?: string;
  fromVersion?: string;
  continueVersion?: string;
  /** Explicit tags; undefined = automatic tags (none when continuing). */
  tags?: string[];
  /** Catalog time, or undefined for none. */
  expire?: string;
  /** Called as soon as the version exists (`-m` prints the uid then). */
  onVersion?: (uid: string) => void;
}

export interface BackupOutcome {
  uid: string;
  exitCode: number;
}

const SAMPLE_SIZE = 5;

/** The catalog roles a backup uses. */
export type BackupCatalog =
  & VersionRole
  & BlockMapRole
  & BlobRole
  & StatsRole
  & CommitCatalog
  & Transactional<BlobRole & BlockMapRole>;
type BackupEngine = EngineWith<BackupCatalog>;

export async function backup(configured: BackupEngine, request: BackupRequest): Promise<BackupOutcome> {
  let fileHints = request.hintsPath !== undefined ? await readHints(request.hintsPath) : null;
  const engine = await layoutEngine(configured, request);
  if (request.fromVersion !== undefined && !await sameLayoutAsBase(engine, request.fromVersion)) {
    request = { ...request, fromVersion: undefined };
    fileHints = null;
  }
  const source = await engine.openSource(request.sourceUrl);
  try {
    const hints = fileHints ?? await inToolHints(engine, request, source);
    return await new BackupRun(engine, request, source, hints).run();
  } finally {
    await source.close();
  }
}

/** A continued version keeps the block size and hash function it was started with. */
async function layoutEngine(engine: BackupEngine, request: BackupRequest): Promise<BackupEngine> {
  if (request.continueVersion === undefined) return engine;
  return engineFor(engine, await engine.catalog.getVersion(request.continueVersion));
}

/**
 * A differential backup copies its base's block references as they are, so it needs the base's block size
 * and hash function. When the configuration has changed since, the backup is a full one (its hints, which
 * describe changes since the base, are dropped too) and says so.
 */
async function sameLayoutAsBase(engine: BackupEngine, baseUid: string): Promise<boolean> {
  const base = await engine.catalog.getVersion(baseUid);
  const layout = layoutOf(base, engine.settings);
  if (isConfiguredLayout(layout, engine.settings)) return true;
  const { blockSize, hashFunction } = engine.settings;
  engine.log.warning(
    `Base version ${base.uid} was made with block size ${layout.blockSize} and ${layout.hashFunction}; the ` +
      `configuration says ${blockSize} and ${hashFunction}. Making a full backup instead of a differential one.`,
  );
  return false;
}

/**
 * In-tool differential (rbd): `backup -f BASE` without `-r` on a source that can diff snapshots gets its hints
 * from the source itself — the extents changed since BASE's snapshot, when that snapshot still exists on the
 * image — instead of reading everything. `-r` always wins. The usual sample of unhinted blocks is still
 * compared with BASE, so a base taken from another image is caught (exit 5).
 */
async function inToolHints(engine: BackupEngine, request: BackupRequest, source: Source): Promise<Hint[] | null> {
  if (request.fromVersion === undefined || !source.changesSince) return null;
  const base = await engine.catalog.getVersion(request.fromVersion);
  if (!base.valid || base.snapshotName === "") return null;
  const hints = await source.changesSince(base.snapshotName);
  if (hints === null) {
    engine.log.info(
      `Snapshot ${base.snapshotName} of base version ${base.uid} is not usable on ${source.url}; ` +
        "reading the whole source.",
    );
  } else {
    engine.log.info(
      `Hints from an rbd diff of ${source.url} against snapshot ${base.snapshotName} of base ` +
        `version ${base.uid}: ${hints.length} changed extents.`,
    );
  }
  return hints;
}

class BackupRun {
  private readonly blockSize: number;
  private readonly blocks: number;
  private readonly counters: Counters = {
    bytesRead: 0,
    blocksRead: 0,
    bytesWritten: 0,
    blocksWritten: 0,
    bytesFoundDedup: 0,
    blocksFoundDedup: 0,
    bytesSparse: 0,
    blocksSparse: 0,
    bytesStored: 0,
  };
  private readonly started = performance.now();
  private readonly sparseIds = new Map<number, number>();

  constructor(
    private readonly engine: BackupEngine,
    private readonly request: BackupRequest,
    private readonly source: Source,
    private readonly hints: Hint[] | null,
  ) {
    this.blockSize = engine.settings.blockSize;
    this.blocks = Math.ceil(source.size / this.blockSize);
  }

  async run(): Promise<BackupOutcome> {
    const { catalog } = this.engine;
    const marks = this.hints ? markHintedBlocks(this.hints, this.source.size, this.blockSize, this.blocks) : null;
    await using leases = new AsyncDisposableStack();
    const fromVersion = this.request.fromVersion;
    const base = fromVersion !== undefined ? await this.baseVersion(fromVersion, leases) : null;
    // A signal while the source was opened: no version is created for a backup that cannot start.
    if (this.engine.interruption.requested) throw this.engine.interruption.stopped("the backup did not start");
    const { version, map, continuing } = await this.startVersion(leases);
    const baseMap = base ? await catalog.blockMap(base.uid) : null;
    const checkIds = baseMap && this.hints && this.hints.length > 0 ? sampleUnhinted(marks!, baseMap) : new Set();
    this.request.onVersion?.(version.uid);
    const tags = await this.applyTagsAndExpire(version, continuing);
    const plan = !baseMap && !continuing
      ? await this.planFresh(map, marks)
      : await this.plan(map, marks, baseMap, checkIds as Set<number>);
    // Saved now so that a killed run's continuation keeps the copied and sparse blocks it planned.
    if (plan.reads > 0) await catalog.saveDraft(version.uid, map);
    const data = new DataPhase(
      this.engine,
      this.source,
      version.uid,
      map,
      this.counters,
      (size) => this.sparseRef(size),
    );
    const failure = await data.run(plan);
    if (failure?.kind === "interrupted") throw this.interrupted(version);
    if (failure?.kind === "sanity") return await this.sanityFailed(version.uid, failure.id, failure.length);
    await this.insertStats(version);
    if (failure?.kind === "write") {
      this.engine.log.error(`Exception during saving to the data backend: ${failure.message}`);
      this.engine.report?.fail(`Exception during saving to the data backend: ${failure.message}`);
      this.engine.log.info(`New invalid version: ${version.uid} (Tags: [${tags.join(",")}])`);
      return { uid: version.uid, exitCode: Exit.dataBackend };
    }
    await commitWithMeta(this.engine, version.uid, map);
    this.engine.log.info(writtenSummary(this.counters));
    this.engine.log.info(`New version: ${version.uid} (Tags: [${tags.join(",")}])`);
    return { uid: version.uid, exitCode: Exit.ok };
  }

  private interrupted(version: Version): Error {
    const snapshot = version.snapshotName !== "" ? ["-s", version.snapshotName] : [];
    return this.engine.interruption.stopped(`version ${version.uid} is incomplete`, {
      advice: "continue it with",
      args: ["backup", "-c", version.uid, ...snapshot, this.request.sourceUrl, version.name],
    });
  }

  /** The base version, locked shared so that nobody removes it while its blocks are being copied. */
  private async baseVersion(uid: string, leases: AsyncDisposableStack): Promise<Version> {
    leases.use(await this.engine.locks.acquire(uid, "shared", (holder) => versionLocked(uid, holder)));
    const base = await this.engine.catalog.getVersion(uid);
    if (!base.valid || base.inProgress) throw new BackyError("You cannot base on an invalid version.");
    return base;
  }

  /** The version to write, locked exclusively for the run (`leases` ends the lock). */
  private async startVersion(
    leases: AsyncDisposableStack,
  ): Promise<{ version: Version; map: BlockMap; continuing: boolean }> {
    const { catalog, locks } = this.engine;
    const uid = this.request.continueVersion;
    if (uid !== undefined) {
      const version = await catalog.getVersion(uid);
      if (version.sizeBytes !== this.source.size) {
        throw new BackyError(
          "Version to continue backup from has a different size than the source. Cannot continue.",
        );
      }
      if (version.valid) throw new BackyError("You cannot continue a valid version.");
      if (!version.inProgress) {
        throw new BackyError(
          `Version ${uid} is complete but was invalidated (scrub or restore found bad blocks); ` +
            "back up anew instead of continuing it.",
        );
      }
      leases.use(await locks.acquire(uid, "exclusive", (holder) => versionLocked(uid, holder)));
      const map = await catalog.blockMap(uid);
      // Blocks recorded onto a blob found bad since then are read again.
      const invalid = await catalog.invalidRefIds();
      for (let id = 0; id < map.length; id++) if (invalid.has(map[id])) map[id] = 0;
      return { version, map, continuing: true };
    }
    const version = await catalog.createVersion({
      name: this.request.name,
      snapshotName: this.request.snapshotName,
      size: this.blocks,
      sizeBytes: this.source.size,
      blockSize: this.blockSize,
      hashFunction: this.engine.settings.hashFunction,
    });
    leases.use(await locks.acquire(version.uid, "exclusive", (holder) => versionLocked(version.uid, holder)));
    return { version, map: new Uint32Array(this.blocks), continuing: false };
  }

  private async applyTagsAndExpire(version: Version, continuing: boolean): Promise<string[]> {
    const { catalog } = this.engine;
    let tags = this.request.tags ?? [];
    if (this.request.tags === undefined && !continuing) {
      const others = (await catalog.listVersions({ name: version.name })).filter((v) => v.uid !== version.uid);
      tags = autoTags(others, now());
    }
    const added = tags.filter((tag, i) => tags.indexOf(tag) === i && !version.tags.includes(tag));
    if (added.length) await catalog.addTags(version.uid, added);
    if (this.request.expire !== undefined) await catalog.setExpire(version.uid, this.request.expire);
    return added;
  }

  /**
   * Decides every block, in backy2's order of rules: read it (hinted, sampled, or its base block is invalid or
   * resized), record it sparse, or copy the base's reference. Fills the map for blocks that need no read, leaves 0
   * for the reads.
   */
  private async plan(
    map: BlockMap,
    marks: Uint8Array | null,
    baseMap: BlockMap | null,
    checkIds: Set<number>,
  ): Promise<Plan> {
    const { catalog } = this.engine;
    const irregular = baseMap ? await catalog.irregularRefs(this.blockSize) : new Map<number, BlobRef>();
    /** Block id → the base reference it must match, looked up after the loop. */
    const checked = new Map<number, number>();
    let reads = 0;
    for (let id = 0; id < this.blocks; id++) {
      if (map[id] !== 0) continue;
      const size = Math.min(this.blockSize, this.source.size - id * this.blockSize);
      let baseId = baseMap && id < baseMap.length ? baseMap[id] : 0;
      const baseRef = baseId ? irregular.get(baseId) : undefined;
      // The base's short last block of an image that grew: its old bytes are still in the source.
      const resized = baseId !== 0 && (baseRef?.size ?? this.blockSize) !== size;
      if (resized) baseId = 0;
      const baseSparse = baseRef?.uid === null;
      if (marks === null || marks[id] === HINT_READ) reads++;
      else if (baseId && checkIds.has(id) && !baseSparse) {
        checked.set(id, baseId);
        reads++;
      } else if (baseId && baseRef && !baseRef.valid) reads++;
      else if (marks[id] === HINT_SPARSE) await this.recordSparse(map, id, size);
      else if (resized) reads++;
      else if (!baseId) await this.recordSparse(map, id, size);
      else {
        map[id] = baseId;
        if (baseSparse) this.countSparse(size);
        else {
          this.counters.blocksFoundDedup++;
          this.counters.bytesFoundDedup += size;
        }
      }
    }
    const refs = await catalog.refs(new Set(checked.values()));
    const checks = new Map([...checked].map(([id, baseId]) => [id, refs.get(baseId)!]));
    return { reads, checks };
  }

  /**
   * {@link plan} for a new version without a base, where a block is read when hinted (or when there are no
   * hints) and sparse otherwise. The map is filled by native scans and fills, so a 1 TiB image with a few
   * hints runs no per-block JavaScript (which the JIT would spend megabytes compiling).
   */
  private async planFresh(map: BlockMap, marks: Uint8Array | null): Promise<Plan> {
    const plan: Plan = { reads: 0, checks: new Map() };
    if (marks === null) return { ...plan, reads: this.blocks };
    for (let start = 0; start < this.blocks;) {
      const read = marks.indexOf(HINT_READ, start);
      const end = read < 0 ? this.blocks : read;
      await this.fillSparse(map, start, end);
      if (read < 0) break;
      plan.reads++;
      start = read + 1;
    }
    return plan;
  }

  /** Records blocks [start, end) of a new version as sparse; only the image's last block may be short. */
  private async fillSparse(map: BlockMap, start: number, end: number): Promise<void> {
    if (start >= end) return;
    const lastSize = this.source.size - (this.blocks - 1) * this.blockSize;
    const fullEnd = end === this.blocks && lastSize < this.blockSize ? end - 1 : end;
    if (fullEnd > start) {
      map.fill(await this.sparseRef(this.blockSize), start, fullEnd);
      this.counters.blocksSparse += fullEnd - start;
      this.counters.bytesSparse += (fullEnd - start) * this.blockSize;
    }
    if (fullEnd < end) await this.recordSparse(map, fullEnd, lastSize);
  }

  /** The sparse reference of `size` bytes, looked up (or made) once per run. */
  private async sparseRef(size: number): Promise<number> {
    let refId = this.sparseIds.get(size);
    if (refId === undefined) this.sparseIds.set(size, refId = await this.engine.catalog.sparseRef(size));
    return refId;
  }

  /** Records a sparse block; a catalog round trip only for the first block of its size. */
  private recordSparse(map: BlockMap, id: number, size: number): Promise<void> | void {
    const known = this.sparseIds.get(size);
    if (known === undefined) return this.sparseRef(size).then(() => this.recordSparse(map, id, size));
    map[id] = known;
    this.countSparse(size);
  }

  private countSparse(size: number): void {
    this.counters.blocksSparse++;
    this.counters.bytesSparse += size;
  }

  private async sanityFailed(uid: string, id: number, length: number): Promise<BackupOutcome> {
    const { log, catalog } = this.engine;
    log.error("Source and backup don't match in regions outside of the hints.");
    log.error("Looks like the hints don't match or the source is different.");
    this.engine.report?.fail("Source and backup don't match in regions outside of the hints.");
    log.error(`Found wrong source data at block ${id}: offset ${id * this.blockSize} with max. length ${length}`);
    await catalog.removeVersion(uid);
    return { uid, exitCode: Exit.sanityCheck };
  }

  private async insertStats(version: Version): Promise<void> {
    await this.engine.catalog.insertStats({
      versionUid: version.uid,
      versionName: version.name,
      versionSizeBytes: this.source.size,
      versionSizeBlocks: this.blocks,
      ...this.counters,
      durationSeconds: Math.floor((performance.now() - this.started) / 1000),
    });
  }
}

/** `Wrote 12 blobs: 48 MiB of data stored in 20 MiB (42 %).`: the plain and the stored bytes this run wrote. */
function writtenSummary(counters: Counters): string {
  const { blocksWritten, bytesWritten, bytesStored } = counters;
  if (blocksWritten === 0) return "Wrote no blobs.";
  const blobs = `${blocksWritten} blob${blocksWritten === 1 ? "" : "s"}`;
  const share = Math.round((bytesStored / bytesWritten) * 100);
  return `Wrote ${blobs}: ${humanize(bytesWritten)} of data stored in ${humanize(bytesStored)} (${share} %).`;
}

/**
 * Up to 5 + 5 unhinted block ids whose base content is re-read and compared (a backup whose source differs
 * there fails: its hints missed a change): 5 distinct ones and 5 drawn with replacement, like the reference's
 * `random.sample` plus `random.choice`. Picked by rank among the unhinted blocks, so that no list of them is
 * built.
 */
function sampleUnhinted(marks: Uint8Array, baseMap: BlockMap): Set<number> {
  const unhinted = (id: number) => marks[id] === 0 && id < baseMap.length;
  let count = 0;
  for (let id = 0; id < marks.length; id++) if (unhinted(id)) count++;
  const ranks = new Set<number>();
  while (ranks.size < Math.min(SAMPLE_SIZE, count)) ranks.add(Math.floor(Math.random() * count));
  for (let i = 0; i < Math.min(SAMPLE_SIZE, count); i++) ranks.add(Math.floor(Math.random() * count));
  const picks = new Set<number>();
  for (let id = 0, rank = 0; id < marks.length && picks.size < ranks.size; id++) {
    if (unhinted(id) && ranks.has(rank++)) picks.add(id);
  }
  return picks;
}
