/**
 * `backy2 remove-tag VERSION_UID NAME`: removes each named tag (comma-separated, as for add-tag). An unknown
 * version or a tag the version does not have is silently fine.
 */
import type { CommandContext } from "./context.ts";
import { tagList } from "./cmd_add_tag.ts";

export async function removeTag(ctx: CommandContext): Promise<number> {
  await ctx.engine.catalog.removeTags(ctx.string("version_uid")!, tagList(ctx.string("name")!));
  return 0;
}
