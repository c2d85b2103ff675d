/**
 * What every catalog checks when it imports a version: block ids inside the version and not repeated, and a
 * uid it does not have yet.
 */
import type { BlockMap, ImportedVersion } from "./catalog.ts";
import { BackyError, Exit } from "../util/errors.ts";

export function checkBlockId(version: ImportedVersion, map: BlockMap, id: number): void {
  if (!Number.isInteger(id) || id < 0 || id >= map.length || map[id] !== 0) {
    throw new BackyError(`Version ${version.uid}: block id ${id} is repeated or outside its ${map.length} blocks.`);
  }
}

/** `'Version {uid} already exists and cannot be imported.'` (exit 22, as the reference's KeyError). */
export function versionExists(uid: string): BackyError {
  return new BackyError(`Version ${uid} already exists and cannot be imported.`, {
    exitCode: Exit.importExists,
    quoted: true,
    bare: true,
  });
}
