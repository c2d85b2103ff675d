/**
 * `backy2 scrub VERSION_UID [-s SOURCE] [-p PERCENT]`: checks a version's blobs (PERCENT of its blocks, and
 * with `-s` against the source too); a bad blob is invalidated with every version that uses it.
 *
 * `scrub --from-store [VERSION_UID]` checks versions (one, or every one whose header is in the store) against
 * the blobs they name, with no catalog: each header and its page objects are read and checked, the version
 * loaded into a catalog in memory, scrubbed there (present, readable, checksum right) and dropped again, so
 * memory follows one version. Nothing is marked in the configured catalog; the exit code is 20 when a
 * metadata object is unusable or any version has bad blobs.
 */
import type { CommandContext } from "./context.ts";
import { scrub as scrubVersion } from "../engine/scrub.ts";
import { parsePyInt } from "../output/pystr.ts";
import { BackyError, Exit } from "../util/errors.ts";

export async function scrub(ctx: CommandContext): Promise<number> {
  const share = percentile(ctx.string("percentile") ?? "100");
  const uid = ctx.string("version_uid");
  if (ctx.flag("fromStore")) return await scrubFromStore(ctx, uid, share);
  if (uid === undefined) throw missingUid();
  ctx.result.uid = uid;
  ctx.report.declare("checked", "bytes_read", "invalid_blobs", "source_mismatches");
  await ctx.openStore();
  const code = await scrubVersion(ctx.engine, { uid, sourceUrl: ctx.string("source"), percentile: share });
  // The scrub ran to its end (0 or 20): the version exists, and its name labels the scrub metrics.
  ctx.result.name = (await ctx.engine.catalog.getVersion(uid)).name;
  return code;
}

async function scrubFromStore(ctx: CommandContext, uid: string | undefined, share: number): Promise<number> {
  if (ctx.string("source") !== undefined) throw new BackyError("scrub --from-store does not take -s/--source.");
  const { loadVersion } = await import("../meta/from_store.ts");
  const { UnusableMeta } = await import("../meta/load.ts");
  ctx.report.declare("objects", "checked", "bytes_read", "invalid_blobs", "source_mismatches");
  await ctx.openStore();
  const { catalog, store, log } = ctx.engine;
  const names = uid !== undefined ? [uid] : (await store.listMeta("versions")).map((meta) => meta.name);
  log.info(`Scrubbing ${names.length} versions against their blobs (from the data backend alone).`);
  const bad: string[] = [];
  const unusable: { uid: string; object: string; reason: string }[] = [];
  for (const name of names) {
    ctx.report.add("objects");
    try {
      await loadVersion(ctx.engine, name);
    } catch (error) {
      if (!(error instanceof UnusableMeta)) throw error;
      log.error(error.message);
      unusable.push({ uid: name, object: error.object, reason: error.message });
      continue;
    }
    if (await scrubVersion(ctx.engine, { uid: name, percentile: share }) !== Exit.ok) bad.push(name);
    await catalog.removeVersion(name);
  }
  Object.assign(ctx.result, { uid: uid ?? null, versions_with_bad_blobs: bad, unusable_objects: unusable });
  if (bad.length === 0 && unusable.length === 0) return Exit.ok;
  const summary = `scrub --from-store: ${bad.length} versions with bad blobs, ${unusable.length} unusable ` +
    `metadata objects (of ${names.length}).`;
  log.error(summary);
  ctx.report.fail(summary);
  return Exit.scrubFailed;
}

/** The share of blocks to check; the reference takes any integer, which let `-p -5` mark a version valid. */
function percentile(text: string): number {
  const value = parsePyInt(text);
  if (value < 0 || value > 100) throw new BackyError(`-p/--percentile ${text} is outside 0..100.`);
  return value;
}

/** Only `--from-store` may leave out the version uid (a usage error, exit 2, as argparse's). */
function missingUid(): BackyError {
  return new BackyError("scrub needs a version uid (only scrub --from-store checks every metadata object).", {
    exitCode: Exit.argparse,
  });
}
