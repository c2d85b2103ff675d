/** `backy2 restore VERSION_UID TARGET` with `-s -f -c` (behavior §2.6, §7). */
import type { CommandContext } from "./context.ts";
import { restore } from "../engine/restore.ts";
import { BackyError } from "../util/errors.ts";

export async function restoreCommand(ctx: CommandContext): Promise<number> {
  const continueText = ctx.string("continueFrom") ?? "0";
  if (!/^\s*[+-]?\d+\s*$/.test(continueText)) {
    throw new BackyError(`invalid literal for int() with base 10: '${continueText}'`);
  }
  return await restore(ctx.engine, {
    uid: ctx.string("version_uid")!,
    targetUrl: ctx.string("target")!,
    sparse: ctx.flag("sparse"),
    force: ctx.flag("force"),
    continueFrom: Math.max(0, Number(continueText)),
  });
}
