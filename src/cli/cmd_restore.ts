/**
 * `backy2 restore VERSION_UID TARGET` with `-s -f -c`. A key that cannot decrypt the blobs ends the
 * restore as backy2 ends it on a failed read from the data backend: one line, exit 6.
 *
 * With `--from-store` the version comes from its metadata object in the block store, into a catalog in
 * memory: the configured catalog is neither needed nor opened (nor created), for a restore after losing it.
 */
import type { CommandContext } from "./context.ts";
import { restore } from "../engine/restore.ts";
import { parsePyInt } from "../output/pystr.ts";
import { WrongKeyError } from "../store/codec_store.ts";
import { BackyError, Exit } from "../util/errors.ts";

export async function restoreCommand(ctx: CommandContext): Promise<number> {
  const continueFrom = parsePyInt(ctx.string("continueFrom") ?? "0");
  const uid = ctx.string("version_uid")!;
  ctx.result.uid = uid;
  ctx.report.declare("blocks_written", "bytes_written", "blocks_sparse", "bytes_sparse", "blocks_missing");
  await ctx.openStore();
  if (ctx.catalogInMemory) await (await import("../meta/from_store.ts")).loadVersion(ctx.engine, uid);
  try {
    return await restore(ctx.engine, {
      uid,
      targetUrl: ctx.string("target")!,
      sparse: ctx.flag("sparse"),
      force: ctx.flag("force"),
      continueFrom,
    });
  } catch (error) {
    if (!(error instanceof WrongKeyError)) throw error;
    throw new BackyError(`Exception during reading from the data backend: ${error.message}`, {
      exitCode: Exit.dataBackend,
      bare: true,
    });
  }
}
