/** `backy2 cleanup [-f] [-p PREFIX] [--dangerous-force]` (behavior §11). */
import type { CommandContext } from "./context.ts";
import { fastCleanup, fullCleanup } from "../engine/cleanup.ts";

export async function cleanup(ctx: CommandContext): Promise<number> {
  const prefix = ctx.string("prefix");
  if (ctx.flag("full")) {
    await fullCleanup(ctx.engine, prefix);
    return 0;
  }
  if (prefix !== undefined) ctx.log.warning("--prefix is only used by a full cleanup (--full); ignoring it.");
  await fastCleanup(ctx.engine, ctx.flag("dangerousForce"));
  return 0;
}
