/** `backy2 scrub VERSION_UID [-s SOURCE] [-p PERCENT]` (behavior §8, §9). */
import type { CommandContext } from "./context.ts";
import { scrub as scrubVersion } from "../engine/scrub.ts";
import { parsePyInt } from "../output/pystr.ts";

export async function scrub(ctx: CommandContext): Promise<number> {
  return await scrubVersion(ctx.engine, {
    uid: ctx.string("version_uid")!,
    sourceUrl: ctx.string("source"),
    percentile: parsePyInt(ctx.string("percentile") ?? "100"),
  });
}
