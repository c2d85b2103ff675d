/** `backy2 scrub VERSION_UID [-s SOURCE] [-p PERCENT]` (behavior §8, §9). */
import type { CommandContext } from "./context.ts";
import { scrub as scrubVersion } from "../engine/scrub.ts";
import { BackyError } from "../util/errors.ts";

export async function scrub(ctx: CommandContext): Promise<number> {
  const percentileText = ctx.string("percentile") ?? "100";
  if (!/^\s*[+-]?\d+\s*$/.test(percentileText)) {
    throw new BackyError(`invalid literal for int() with base 10: '${percentileText}'`);
  }
  return await scrubVersion(ctx.engine, {
    uid: ctx.string("version_uid")!,
    sourceUrl: ctx.string("source"),
    percentile: Number(percentileText),
  });
}
