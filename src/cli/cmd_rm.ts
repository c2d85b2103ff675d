/** `backy2 rm [-f] VERSION_UID` (behavior §10.1): removes a version's metadata; `cleanup` frees its blobs. */
import type { CommandContext } from "./context.ts";
import { BackyError, versionLocked } from "../util/errors.ts";
import { now, parseCatalogTime } from "../util/clock.ts";

const DAY_MS = 86_400_000;

export function rm(ctx: CommandContext): number {
  const uid = ctx.string("version_uid")!;
  if (!ctx.locks.enabled && !ctx.flag("force")) {
    throw new BackyError(
      "Locking is disabled (lock_dir is empty), so rm could remove a version that a running backup, restore or " +
        "scrub uses. Add -f to remove it anyway.",
    );
  }
  const { catalog, locks, log } = ctx.engine;
  if (!locks.lock(uid, "exclusive")) throw versionLocked(uid);
  const version = catalog.getVersion(uid);
  if (version.protected) throw new BackyError(`Version ${uid} is protected. Will not delete.`);
  if (!ctx.flag("force")) {
    const ageDays = Math.floor((now().getTime() - parseCatalogTime(version.date).getTime()) / DAY_MS);
    if (ctx.config.defaults.disallowRmWhenYoungerThanDays > ageDays) {
      throw new BackyError(`Version ${uid} is too young. Will not delete.`, { quoted: true });
    }
  }
  const blocks = catalog.removeVersion(uid);
  log.info(`Removed backup version ${uid} with ${blocks} blocks.`);
  return 0;
}
