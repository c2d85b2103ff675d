/**
 * `backy2 rebuild-catalog`: rebuilds the catalog of `[MetaBackend]` from the metadata objects in the block store of
 * `[DataBackend]` (src/meta/rebuild.ts), creating it when it is missing or empty. Ends with one summary line;
 * exit 0 when every object was imported whole (or was in the catalog already), 100 when an object was skipped or
 * a version came back invalid because blobs are missing. The stats history is not rebuilt.
 */
import type { CommandContext } from "./context.ts";
import { rebuildCatalog } from "../meta/rebuild.ts";
import { BackyError, Exit } from "../util/errors.ts";

export async function rebuildCatalogCommand(ctx: CommandContext): Promise<number> {
  // Creating the catalog is what this command is for (after it was lost).
  ctx.createsCatalog = true;
  await ctx.openStore();
  if (!ctx.locks.lock("backy", "exclusive")) {
    throw new BackyError("Other backy instances are running.", { quoted: true });
  }
  try {
    const outcome = await rebuildCatalog(ctx.engine);
    Object.assign(ctx.result, {
      objects: outcome.found,
      imported: outcome.imported,
      imported_invalid: outcome.incomplete.map(({ uid, missing }) => ({ uid, missing_blobs: missing })),
      already_present: outcome.present,
      skipped: outcome.skipped.map(({ object, kind, reason }) => ({ object, kind, reason })),
    });
    const summary = `Rebuilt ${outcome.imported.length} of ${outcome.found} versions from the data backend ` +
      `(${outcome.incomplete.length} of them invalid: blobs missing); ${outcome.present.length} were in the ` +
      `catalog already, ${outcome.skipped.length} metadata objects skipped.`;
    if (outcome.skipped.length === 0 && outcome.incomplete.length === 0) {
      ctx.log.info(summary);
      return Exit.ok;
    }
    ctx.log.error(summary);
    ctx.report.fail(summary);
    return Exit.failed;
  } finally {
    ctx.locks.lock("backy", "shared");
  }
}
