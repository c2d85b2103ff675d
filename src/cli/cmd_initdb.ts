/**
 * `backy2 initdb`: creates the catalog (a missing or 0-byte file); never touches one with content. With a
 * config file, only initdb creates a catalog; the embedded default also creates its own on first use.
 */
import type { CommandContext } from "./context.ts";
import { openCatalog } from "../catalog/open_catalog.ts";
import { BackyError } from "../util/errors.ts";

export async function initdb(ctx: CommandContext): Promise<number> {
  const { sqlitePath } = ctx.config.meta;
  if (sqlitePath !== null && exists(sqlitePath)) {
    throw new BackyError(`Catalog ${sqlitePath} already exists; initdb never overwrites one.`);
  }
  await (await openCatalog(ctx.config.meta, true, true)).close();
  return 0;
}

function exists(path: string): boolean {
  try {
    return Deno.statSync(path).size > 0;
  } catch {
    return false;
  }
}
