/**
 * `backy2 migrate-encryption VERSION_UID`: a new version with every stored block in the configured
 * encryption version; the old version is kept.
 */
import type { CommandContext } from "./context.ts";
import { migrateEncryption } from "../engine/migrate_encryption.ts";
import { Exit } from "../util/errors.ts";

export async function migrateEncryptionCommand(ctx: CommandContext): Promise<number> {
  await ctx.openStore();
  await migrateEncryption(ctx.engine, ctx.string("version_uid")!);
  return Exit.ok;
}
