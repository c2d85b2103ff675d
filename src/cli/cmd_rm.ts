/** `backy2 rm [-f] VERSION_UID`: removes a version's metadata; `cleanup` frees its blobs. */
import type { CommandContext } from "./context.ts";
import { BackyError } from "../util/errors.ts";
import { removeVersion } from "./remove_version.ts";

export async function rm(ctx: CommandContext): Promise<number> {
  const uid = ctx.string("version_uid")!;
  if (!ctx.locks.enabled && !ctx.flag("force")) {
    throw new BackyError(
      "Locking is disabled (lock_dir is empty), so rm could remove a version that a running backup, restore or " +
        "scrub uses. Add -f to remove it anyway.",
    );
  }
  ctx.result.uid = uid;
  await removeVersion(ctx, uid, { ignoreAge: ctx.flag("force") });
  return 0;
}
