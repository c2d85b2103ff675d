/** `backy2 protect VERSION_UID`: protected versions cannot be removed by `rm`. */
import type { CommandContext } from "./context.ts";
import { BackyError } from "../util/errors.ts";
import { markStale } from "../meta/stale.ts";

export async function protect(ctx: CommandContext): Promise<number> {
  const uid = ctx.string("version_uid")!;
  const { catalog } = ctx.engine;
  if ((await catalog.getVersion(uid)).protected) throw new BackyError(`Version ${uid} is already protected.`);
  await catalog.setProtected(uid, true);
  markStale(ctx.engine, [uid]);
  ctx.log.debug(`Marked version protected (UID ${uid})`);
  return 0;
}
