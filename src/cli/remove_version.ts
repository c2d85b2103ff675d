/**
 * Removing one version's metadata, as `rm` and `enforce --force` both do it: under the version's exclusive
 * lock, refusing protected versions and (unless `ignoreAge`) versions younger than
 * `disallow_rm_when_younger_than_days`. The version's header in the block store goes after it (a failure there
 * leaves a header without a version, which `check-store` lists). `cleanup` frees the blobs afterwards, and
 * `cleanup --full` the page objects no header names.
 */
import type { CommandContext } from "./context.ts";
import { BackyError, versionLocked } from "../util/errors.ts";
import { now, parseCatalogTime } from "../util/clock.ts";
import { ageInDays } from "../engine/retention.ts";
import { removeHeader } from "../meta/sync.ts";

export async function removeVersion(
  ctx: CommandContext,
  uid: string,
  options: { ignoreAge: boolean },
): Promise<void> {
  const { catalog, locks, log, store } = ctx.engine;
  await using _lease = await locks.acquire(uid, "exclusive", (holder) => versionLocked(uid, holder));
  const version = await catalog.getVersion(uid);
  if (version.protected) throw new BackyError(`Version ${uid} is protected. Will not delete.`);
  if (!options.ignoreAge) {
    const ageDays = ageInDays(parseCatalogTime(version.date), now());
    if (ctx.config.defaults.disallowRmWhenYoungerThanDays > ageDays) {
      throw new BackyError(`Version ${uid} is too young. Will not delete.`, { quoted: true });
    }
  }
  const blocks = await catalog.removeVersion(uid);
  log.info(`Removed backup version ${uid} with ${blocks} blocks.`);
  await removeHeader(store, uid);
}
