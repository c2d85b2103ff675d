/**
 * Invalidation: a bad blob makes every block that shares it invalid, and every version using
 * it; new backups then never deduplicate onto it, and differential backups re-read those blocks. Their
 * metadata objects are written again before the command ends.
 */
import type { BlobRole } from "../catalog/catalog.ts";
import type { EngineWith } from "./engine.ts";
import { markStale } from "../meta/stale.ts";

export async function invalidateBlob(
  engine: Pick<EngineWith<Pick<BlobRole, "invalidate">>, "catalog" | "log" | "staleMeta">,
  uid: string,
  checksum: string | null,
): Promise<string[]> {
  const affected = await engine.catalog.invalidate(uid, checksum);
  markStale(engine, affected);
  engine.log.info(`Marked block invalid (UID ${uid}, Checksum ${checksum}. Affected versions: ${affected.join(", ")}`);
  for (const versionUid of affected) engine.log.info(`Marked version invalid (UID ${versionUid})`);
  return affected;
}
