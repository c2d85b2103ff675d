/**
 * `backy2 remove-tag VERSION_UID NAME`: removes each named tag (comma-separated, as for add-tag). An unknown
 * version or a tag the version does not have is silently fine.
 */
import type { CommandContext } from "./context.ts";
import { tagList } from "./cmd_add_tag.ts";
import { markStale } from "../meta/stale.ts";

export async function removeTag(ctx: CommandContext): Promise<number> {
  const uid = ctx.string("version_uid")!;
  await ctx.engine.catalog.removeTags(uid, tagList(ctx.string("name")!));
  markStale(ctx.engine, [uid]);
  return 0;
}
