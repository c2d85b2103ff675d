/**
 * Opens the configured catalog: an SQLite file, or a PostgreSQL database (whose client is loaded only for
 * a postgresql URL, so that commands on an SQLite catalog start as fast as before).
 */
import type { Catalog } from "./catalog.ts";
import { openSqliteCatalog } from "./sqlite/catalog.ts";
import { BackyError } from "../util/errors.ts";

export interface CatalogSettings {
  /** The configured engine URL. */
  engine: string;
  /** The file of an SQLite engine; null for other engines. */
  sqlitePath: string | null;
}

export function catalogKind(settings: CatalogSettings): string {
  if (settings.sqlitePath !== null) return "sqlite";
  if (isPostgresUrl(settings.engine)) return "postgresql";
  return "unsupported";
}

/** SQLAlchemy's PostgreSQL URLs, with or without a driver: `postgresql://`, `postgresql+psycopg2://`, `postgres://`. */
export function isPostgresUrl(engine: string): boolean {
  return /^postgres(ql)?(\+[a-z0-9_]+)?:\/\//i.test(engine);
}

/**
 * Opens the catalog; `create`: make it when missing (initdb, the embedded default, migrate-catalog);
 * `mustBeNew`: refuse one that exists (initdb).
 */
export async function openCatalog(settings: CatalogSettings, create: boolean, mustBeNew = false): Promise<Catalog> {
  switch (catalogKind(settings)) {
    case "sqlite":
      return openSqliteCatalog(settings.sqlitePath!, { engine: settings.engine, create });
    case "postgresql": {
      const { openPostgresCatalog } = await import("./postgres/catalog.ts");
      return await openPostgresCatalog(settings.engine, { create, mustBeNew });
    }
    default:
      throw new BackyError(`Unsupported catalog engine ${settings.engine}`);
  }
}
