/**
 * `backy2 rebuild-catalog`: rebuilds the catalog of `[MetaBackend]` from the version headers and page objects in
 * the block store of `[DataBackend]` (src/meta/rebuild.ts), creating it when it is missing or empty (a
 * missing PostgreSQL database too, when the catalog's user may create one). Ends with one summary line; exit 0 when every
 * version was imported whole (or was in the catalog already), 100 when one was skipped or came back invalid
 * because blobs are missing. The stats history is not rebuilt.
 */
import type { CommandContext } from "./context.ts";
import { rebuildCatalog } from "../meta/rebuild.ts";
import { BackyError, Exit, heldBy } from "../util/errors.ts";

export async function rebuildCatalogCommand(ctx: CommandContext): Promise<number> {
  // Creating the catalog is what this command is for (after it was lost).
  ctx.createsCatalog = true;
  await ctx.openCatalog();
  await ctx.openStore();
  await using _lease = await ctx.locks.acquire(
    "backy",
    "exclusive",
    (holder) => new BackyError(heldBy("Other backy instances are running.", holder), { quoted: true }),
  );
  const outcome = await rebuildCatalog(ctx.engine);
  Object.assign(ctx.result, {
    versions: outcome.found,
    imported: outcome.imported,
    imported_invalid: outcome.incomplete.map(({ uid, missing }) => ({ uid, missing_blobs: missing })),
    already_present: outcome.present,
    skipped: outcome.skipped.map(({ uid, object, kind, reason }) => ({ uid, object, kind, reason })),
  });
  const summary = `Rebuilt ${outcome.imported.length} of ${outcome.found} versions from the data backend ` +
    `(${outcome.incomplete.length} of them invalid: blobs missing); ${outcome.present.length} were in the ` +
    `catalog already, ${outcome.skipped.length} skipped (unusable metadata objects).`;
  if (outcome.skipped.length === 0 && outcome.incomplete.length === 0) {
    ctx.log.info(summary);
    return Exit.ok;
  }
  ctx.log.error(summary);
  ctx.report.fail(summary);
  return Exit.failed;
}
