/**
 * `backy2 cleanup [-f] [-p PREFIX] [--dangerous-force]`: deletes the blobs that no version uses any more. A full
 * cleanup that finds blobs the catalog references missing from the data backend does its work, names them and
 * ends with exit 6.
 */
import type { CommandContext } from "./context.ts";
import { fastCleanup, fullCleanup } from "../engine/cleanup.ts";
import { BackyError, Exit } from "../util/errors.ts";

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
    ctx.report.declare("blobs_missing");
    ctx.report.set("blobs_deleted", await fullCleanup(ctx.engine, prefix, force));
    const missing = ctx.report.get("blobs_missing");
    if (missing === 0) return 0;
    ctx.report.fail(`${missing} blobs the catalog references are missing from the data backend.`);
    return Exit.dataBackend;
  }
  if (prefix !== undefined) ctx.log.warning("--prefix is only used by a full cleanup (--full); ignoring it.");
  ctx.report.set("blobs_deleted", await fastCleanup(ctx.engine, force));
  return 0;
}
