/**
 * `backy2 initdb`: creates the catalog (a missing or 0-byte file); never touches one with content. With a
 * config file, only initdb creates a catalog; the embedded default also creates its own on first use.
 */
import type { CommandContext } from "./context.ts";
import { SqliteCatalog } from "../catalog/sqlite.ts";
import { BackyError } from "../util/errors.ts";

export function initdb(ctx: CommandContext): number {
  const { sqlitePath, engine } = ctx.config.meta;
  if (sqlitePath === null) throw new BackyError(`Unsupported catalog engine ${engine}`);
  if (exists(sqlitePath)) throw new BackyError(`Catalog ${sqlitePath} already exists; initdb never overwrites one.`);
  SqliteCatalog.open(sqlitePath, { engine, create: true }).close();
  return 0;
}

function exists(path: string): boolean {
  try {
    return Deno.statSync(path).size > 0;
  } catch {
    return false;
  }
}
