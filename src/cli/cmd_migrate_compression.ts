/**
 * `backy2 migrate-compression VERSION_UID` (ours): a new version whose unencrypted blocks are all stored with
 * the configured `compression` (zstd or none); the old version is kept. How an operator recompresses a store
 * that was written before compression existed, or turns compression off again.
 */
import type { CommandContext } from "./context.ts";
import { migrateCompression } from "../engine/migrate_encryption.ts";
import { Exit } from "../util/errors.ts";

export async function migrateCompressionCommand(ctx: CommandContext): Promise<number> {
  await migrateCompression(ctx.engine, ctx.string("version_uid")!);
  return Exit.ok;
}
