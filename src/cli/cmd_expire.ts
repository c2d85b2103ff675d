/**
 * `backy2 expire VERSION_UID EXPIRE`: sets the expiration date, or clears it when EXPIRE is empty. A date that
 * does not parse fails with exit 1 before anything is touched; any other failure (such as an unknown version)
 * is only a warning, and the command still succeeds, as in the reference.
 */
import type { CommandContext } from "./context.ts";
import { parseExpire } from "../output/dates.ts";
import { catalogTime } from "../util/clock.ts";
import { markStale } from "../meta/stale.ts";

export async function expire(ctx: CommandContext): Promise<number> {
  const uid = ctx.string("version_uid")!;
  const text = ctx.string("expire")!;
  const date = text === "" ? null : catalogTime(parseExpire(text));
  const { catalog } = ctx.engine;
  try {
    await catalog.setExpire(uid, date);
    markStale(ctx.engine, [uid]);
  } catch {
    ctx.log.warning("Unable to expire version.");
    return 0;
  }
  ctx.log.debug(`Set expire for version (UID ${uid})`);
  return 0;
}
