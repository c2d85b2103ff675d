/** `backy2 unprotect VERSION_UID`: lets `rm` remove a protected version again. */
import type { CommandContext } from "./context.ts";
import { BackyError } from "../util/errors.ts";
import { markStale } from "../meta/stale.ts";

export async function unprotect(ctx: CommandContext): Promise<number> {
  const uid = ctx.string("version_uid")!;
  const { catalog } = ctx.engine;
  if (!(await catalog.getVersion(uid)).protected) throw new BackyError(`Version ${uid} is not protected.`);
  await catalog.setProtected(uid, false);
  markStale(ctx.engine, [uid]);
  ctx.log.debug(`Marked version unprotected (UID ${uid})`);
  return 0;
}
