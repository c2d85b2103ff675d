/** `backy2 protect VERSION_UID`: protected versions cannot be removed by `rm`. */
import type { CommandContext } from "./context.ts";
import { BackyError } from "../util/errors.ts";

export function protect(ctx: CommandContext): number {
  const uid = ctx.string("version_uid")!;
  const { catalog } = ctx.engine;
  if (catalog.getVersion(uid).protected) throw new BackyError(`Version ${uid} is already protected.`);
  catalog.setProtected(uid, true);
  ctx.log.debug(`Marked version protected (UID ${uid})`);
  return 0;
}
