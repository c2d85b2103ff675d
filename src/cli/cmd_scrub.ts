/**
 * `backy2 scrub VERSION_UID [-s SOURCE] [-p PERCENT]`: checks a version's blobs (PERCENT of its blocks, and
 * with `-s` against the source too); a bad blob is invalidated with every version that uses it.
 */
import type { CommandContext } from "./context.ts";
import { scrub as scrubVersion } from "../engine/scrub.ts";
import { parsePyInt } from "../output/pystr.ts";
import { BackyError } from "../util/errors.ts";

export async function scrub(ctx: CommandContext): Promise<number> {
  const share = percentile(ctx.string("percentile") ?? "100");
  const uid = ctx.string("version_uid")!;
  ctx.result.uid = uid;
  ctx.report.declare("checked", "bytes_read", "invalid_blobs", "source_mismatches");
  await ctx.openStore();
  const code = await scrubVersion(ctx.engine, { uid, sourceUrl: ctx.string("source"), percentile: share });
  // The scrub ran to its end (0 or 20): the version exists, and its name labels the scrub metrics.
  ctx.result.name = (await ctx.engine.catalog.getVersion(uid)).name;
  return code;
}

/** The share of blocks to check; the reference takes any integer, which let `-p -5` mark a version valid. */
function percentile(text: string): number {
  const value = parsePyInt(text);
  if (value < 0 || value > 100) throw new BackyError(`-p/--percentile ${text} is outside 0..100.`);
  return value;
}
