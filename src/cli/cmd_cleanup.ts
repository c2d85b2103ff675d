/** `backy2 cleanup [-f] [-p PREFIX] [--dangerous-force]`: deletes the blobs that no version uses any more. */
import type { CommandContext } from "./context.ts";
import { fastCleanup, fullCleanup } from "../engine/cleanup.ts";
import { BackyError } from "../util/errors.ts";

export async function cleanup(ctx: CommandContext): Promise<number> {
  const prefix = ctx.string("prefix");
  const force = ctx.flag("dangerousForce");
  if (!ctx.locks.enabled && !force) {
    // Without locks a cleanup cannot know whether a backup is running, and could delete what it writes.
    throw new BackyError(
      "Locking is disabled (lock_dir is empty), so cleanup could delete blobs that a running backup is about " +
        "to use. Add --dangerous-force to run it anyway.",
    );
  }
  ctx.result.mode = ctx.flag("full") ? "full" : "fast";
  ctx.report.declare("blobs_deleted");
  await ctx.openStore();
  if (ctx.flag("full")) {
    ctx.report.set("blobs_deleted", await fullCleanup(ctx.engine, prefix, force));
    return 0;
  }
  if (prefix !== undefined) ctx.log.warning("--prefix is only used by a full cleanup (--full); ignoring it.");
  ctx.report.set("blobs_deleted", await fastCleanup(ctx.engine, force));
  return 0;
}
