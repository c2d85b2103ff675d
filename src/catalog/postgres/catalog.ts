/**
 * The PostgreSQL catalog: the catalog several backup hosts share. Loaded (with its client) only for a
 * postgresql engine URL. Each role lives in its own file of this folder; the schema in schema.ts.
 */
import type { Catalog, CatalogRoles } from "../catalog.ts";
import { BackyError } from "../../util/errors.ts";
import { connect, type Runner } from "./connect.ts";
import { parsePgUrl } from "./url.ts";
import { prepareSchema, schemaVersion } from "./schema.ts";
import { PgScope, retrying } from "./scope.ts";
import { versionRole } from "./versions.ts";
import { blockMapRole } from "./block_maps.ts";
import { blobRole } from "./blobs.ts";
import { cleanupRole } from "./cleanup.ts";
import { statsRole } from "./stats.ts";
import { transferRole } from "./transfer.ts";
import { keyRole } from "./keys.ts";
import { pageObjectRole } from "./page_objects.ts";

/** Connections per process: a backup's checkpoints, lookups and reads overlap. */
const POOL_SIZE = 4;

export interface PgOpenOptions {
  /**
   * Create the schema in an empty database, and the database when it is missing (initdb, migrate-catalog,
   * rebuild-catalog); false: a missing one is an error.
   */
  create: boolean;
  /** initdb: refuse a database that has the schema already. */
  mustBeNew?: boolean;
}

function roles(scope: PgScope): CatalogRoles {
  return {
    ...versionRole(scope),
    ...blockMapRole(scope),
    ...blobRole(scope),
    ...cleanupRole(scope),
    ...statsRole(scope),
    ...transferRole(scope),
    ...keyRole(scope),
    ...pageObjectRole(scope),
  };
}

export async function openPostgresCatalog(engine: string, options: PgOpenOptions): Promise<Catalog> {
  const settings = parsePgUrl(engine);
  const sql = await connect(settings, POOL_SIZE, options.create);
  try {
    if (options.mustBeNew && await schemaVersion(sql) !== 0) {
      throw new BackyError(`Catalog ${settings.shown} already exists; initdb never overwrites one.`);
    }
    await prepareSchema(sql, settings.shown, options.create);
  } catch (error) {
    await sql.end({ timeout: 0 }).catch(() => {});
    throw error;
  }
  return {
    ...roles(new PgScope(sql, false)),
    kind: "postgresql",
    withTransaction: (work) =>
      retrying(() => sql.begin((tx: Runner) => work(roles(new PgScope(tx, true)))) as Promise<never>),
    close: () => sql.end({ timeout: 5 }),
  };
}
