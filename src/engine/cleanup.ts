/**
 * Cleanup: deleting blobs that no version needs any more.
 *
 * Fast cleanup works from the delete candidates `rm` records. The catalog decides, in one transaction, which
 * candidates nothing uses (no committed version, no in-progress backup's block map, no claim a running
 * backup took when it deduplicated onto the blob) and forgets their references in that same transaction;
 * only then are the files deleted. A backup that finds a blob for deduplication claims it in a transaction
 * too, so either the claim comes first and the blob stays, or the cleanup comes first and the backup never
 * sees the blob: the race behind Benji's issue 119 cannot happen, even with no grace period.
 *
 * Full cleanup compares every blob in the store with the catalog; blobs a running backup has written but not
 * yet recorded look unreferenced, so it needs the global lock exclusively (no other backy2 running on this
 * host). Holding it, nothing on this host can be claiming a blob, so the delete candidates that nothing uses go
 * at once, without the fast cleanup's grace period. A backup on another host that shares the store may still
 * be writing blobs it has not recorded, so unreferenced blobs younger than `cleanup_grace_hours` stay; the
 * cut-off is taken before the catalog is read, so an older blob was written at least that long before the
 * catalog's answer.
 *
 * Full cleanup also tells the two ways catalog and store can disagree apart: blobs nothing references are
 * deleted, while blobs the catalog references that the store lacks are counted and named (`scrub` finds the
 * versions). Blobs that a version header names whose version the catalog lacks are kept: they may be all that
 * is left of a version `rebuild-catalog` can bring back. Page objects no header names go (src/meta/sweep.ts).
 */
import type { CleanupRole, VersionRole } from "../catalog/catalog.ts";
import type { EngineWith } from "./engine.ts";
import { BackyError, heldBy } from "../util/errors.ts";
import { now } from "../util/clock.ts";
import { type StoreInventory, storeInventory, sweepPages } from "../meta/sweep.ts";

const GRACE_SECONDS = 3600;
const CHUNK = 1000;

export async function fastCleanup(engine: EngineWith<CleanupRole>, dangerousForce: boolean): Promise<number> {
  const { catalog, log, locks, store } = engine;
  await using _lease = await locks.acquire(
    "backy-cleanup-fast",
    "exclusive",
    (holder) => new BackyError(heldBy("Another backy cleanup is running.", holder), { quoted: true }),
  );
  const grace = dangerousForce ? 0 : GRACE_SECONDS;
  log.info("Deleting false positives...");
  const candidates = await catalog.takeDeleteCandidates(Math.floor(now().getTime() / 1000) - grace + (grace ? 0 : 1));
  log.info("Deleting false positives: done. Now deleting blocks.");
  log.info(`${candidates.length} delete candidate blocks found.`);
  let total = 0;
  for (let start = 0; start < candidates.length; start += CHUNK) {
    const chunk = candidates.slice(start, start + CHUNK).map((c) => c.uid);
    log.info(`Deleting ${chunk.length} blocks`);
    const started = performance.now();
    const missing = await store.removeMany(chunk);
    if (missing.length) log.debug(`Cleanup-fast: Unable to delete these UIDs from data backend: ${missing.join(", ")}`);
    const dbStarted = performance.now();
    await catalog.forgetDeleted(chunk);
    total += chunk.length;
    const seconds = (performance.now() - started) / 1000;
    const rate = chunk.length / Math.max(seconds, 1e-9);
    const left = candidates.length - total;
    log.info(
      `Deleted ${chunk.length} blocks in ${seconds.toFixed(0)}s (${rate.toFixed(0)}/s). Blocks left: ${left} ` +
        `ETA ${(left / rate).toFixed(0)}s. DB delete took ${((performance.now() - dbStarted) / 1000).toFixed(0)}s`,
    );
  }
  log.info(`Deleted ${total} blocks.`);
  return total;
}

/**
 * Full cleanup. Unless `force`, it refuses to delete anything when the catalog has no versions, or more than
 * half of the blobs it looks at: that is what a wrong or new, empty catalog in place of the real one would do.
 * The catalog forgets the blobs before their files go, so a crash in between leaves only orphan files.
 */
type FullEngine = EngineWith<CleanupRole & Pick<VersionRole, "listVersions">>;

export async function fullCleanup(engine: FullEngine, prefix: string | undefined, force: boolean): Promise<number> {
  const { catalog, log, locks, store } = engine;
  await using _lease = await locks.acquire(
    "backy",
    "exclusive",
    (holder) => new BackyError(heldBy("Other backy instances are running.", holder), { quoted: true }),
  );
  const grace = engine.settings.cleanupGraceSeconds;
  const cutoff = now().getTime() - grace * 1000;
  const used = await catalog.usedBlobUids(prefix);
  const notListed = new Set(used);
  const inventory = await storeInventory(store, new Set((await catalog.listVersions()).map((version) => version.uid)));
  let total = 0;
  let young = 0;
  let kept = 0;
  const unused: string[] = [];
  for await (const { uid, modified } of store.list(prefix)) {
    total++;
    if (used.has(uid)) notListed.delete(uid);
    else if (inventory.orphanBlobs.has(uid)) kept++;
    else if (modified.getTime() > cutoff) young++;
    else unused.push(uid);
  }
  reportOrphans(engine, inventory, kept);
  reportMissing(engine, notListed);
  if (!force) refuseMassDeletion(unused.length, total, (await catalog.listVersions()).length === 0);
  const stillUsed = await catalog.dropUnusedBlobs(prefix);
  const doomed = unused.filter((uid) => !stillUsed.has(uid));
  for (let start = 0; start < doomed.length; start += CHUNK) {
    const chunk = doomed.slice(start, start + CHUNK);
    for (const uid of chunk) log.debug(`Cleanup: Removing UID ${uid}`);
    await store.removeMany(chunk);
  }
  log.info(`Cleanup: Removed ${doomed.length} blobs`);
  if (young > 0) {
    log.info(
      `Cleanup: Kept ${young} unreferenced blobs younger than ${grace / 3600} hours (cleanup_grace_hours); ` +
        "a backup may still be writing them.",
    );
  }
  await sweepPages(store, inventory, cutoff, log);
  const unfinished = await store.removeUnfinished(prefix);
  if (unfinished > 0) log.info(`Cleanup: Removed ${unfinished} unfinished blob writes (*.blob.tmp)`);
  return doomed.length;
}

function reportOrphans(engine: FullEngine, inventory: StoreInventory, kept: number): void {
  const headers = inventory.orphanHeaders;
  if (headers.length > 0) {
    engine.log.warning(
      `Cleanup: kept ${kept} blobs that ${headers.length} version headers without a version in the catalog ` +
        `name (${headers.slice(0, 3).join(", ")}); see check-store, rebuild-catalog.`,
    );
  }
  for (const problem of inventory.unreadable) {
    engine.log.warning(`Cleanup: cannot tell which blobs or pages ${problem.object} names: ${problem.message}`);
  }
}

/** Blobs the catalog references that the store does not list: lost data, which no cleanup can fix. */
function reportMissing(engine: FullEngine, missing: Set<string>): void {
  engine.report?.set("blobs_missing", missing.size);
  if (missing.size === 0) return;
  const examples = [...missing].sort().slice(0, 3).join(", ");
  engine.log.error(
    `Cleanup: ${missing.size} blobs the catalog references are missing from the data backend (${examples}` +
      `${missing.size > 3 ? ", ..." : ""}); scrub the versions that use them.`,
  );
}

function refuseMassDeletion(remove: number, total: number, noVersions: boolean): void {
  if (remove === 0 || (!noVersions && remove * 2 <= total)) return;
  const why = noVersions ? "the catalog has no versions" : "more than half the store";
  throw new BackyError(
    `Cleanup --full would delete ${remove} of ${total} blobs (${why}); refusing. Check [MetaBackend] engine, ` +
      "or add --dangerous-force.",
  );
}
