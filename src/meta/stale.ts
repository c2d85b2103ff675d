/**
 * Which versions' headers no longer match the catalog: commands that change a version note it here, and the
 * CLI writes those headers again before it ends (sync.ts). Kept apart so that noting loads nothing else.
 */
import type { Engine } from "../engine/engine.ts";

/** Notes that the headers of these versions no longer match the catalog. */
export function markStale(engine: Pick<Engine, "staleMeta">, uids: Iterable<string>): void {
  for (const uid of uids) engine.staleMeta?.add(uid);
}
