/** `backy2 initdb`: creates the catalog; kept for scripts, since every command creates it on first use. */
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
