/** `backy2 restore VERSION_UID TARGET` with `-s -f -c` (behavior §2.6, §7). */
import type { CommandContext } from "./context.ts";
import { restore } from "../engine/restore.ts";
import { parsePyInt } from "../output/pystr.ts";

export async function restoreCommand(ctx: CommandContext): Promise<number> {
  return await restore(ctx.engine, {
    uid: ctx.string("version_uid")!,
    targetUrl: ctx.string("target")!,
    sparse: ctx.flag("sparse"),
    force: ctx.flag("force"),
    continueFrom: parsePyInt(ctx.string("continueFrom") ?? "0"),
  });
}
