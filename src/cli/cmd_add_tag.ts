/**
 * `backy2 add-tag VERSION_UID NAME`: NAME is one tag or a comma-separated list (one CSV record, items
 * stripped); tags the version already has are skipped. Like the reference, a failure (such as an unknown
 * version) is only a warning and the command still succeeds. A tag that `-m` output could not show is an error
 * (exit 100).
 */
import type { CommandContext } from "./context.ts";
import { checkTags } from "./names.ts";
import { parseCsvRecord } from "../output/fields.ts";
import { markStale } from "../meta/stale.ts";

export async function addTag(ctx: CommandContext): Promise<number> {
  const uid = ctx.string("version_uid")!;
  const tags = tagList(ctx.string("name")!);
  checkTags(tags);
  const { catalog } = ctx.engine;
  try {
    const existing = (await catalog.getVersion(uid)).tags;
    await catalog.addTags(uid, tags.filter((tag) => !existing.includes(tag)));
    markStale(ctx.engine, [uid]);
  } catch {
    ctx.log.warning("Unable to add tag.");
  }
  return 0;
}

/** The tags named by a NAME argument; empty items (`a,,b`) name no tag. */
export function tagList(text: string): string[] {
  return [...new Set(parseCsvRecord(text))].filter((tag) => tag !== "");
}
