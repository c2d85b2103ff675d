/**
 * The embedded catalog: one SQLite file through `node:sqlite`, in WAL mode so that readers never wait for a
 * running backup. Opened (created only where allowed, migrated forward, read-only when it cannot be written)
 * by open.ts; each role lives in its own file of this folder.
 */
import type { Catalog, CatalogRoles } from "../catalog.ts";
import { openCatalogFile, type OpenOptions } from "./open.ts";
import { SqliteConnection, SqliteScope } from "./scope.ts";
import { versionRole } from "./versions.ts";
import { blockMapRole } from "./block_maps.ts";
import { blobRole } from "./blobs.ts";
import { cleanupRole } from "./cleanup.ts";
import { statsRole } from "./stats.ts";
import { transferRole } from "./transfer.ts";
import { keyRole } from "./keys.ts";
import { pageObjectRole } from "./page_objects.ts";

export type { OpenOptions } from "./open.ts";

function roles(scope: SqliteScope): CatalogRoles {
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

/** Opens the catalog at `path` (see {@link openCatalogFile}). */
export function openSqliteCatalog(path: string, options: OpenOptions): Catalog {
  const conn = new SqliteConnection(openCatalogFile(path, options).db, path);
  const tx = roles(new SqliteScope(conn, true));
  return {
    ...roles(new SqliteScope(conn, false)),
    kind: "sqlite",
    withTransaction: (work) => conn.transaction(() => work(tx)),
    close: async () => {
      while (conn.busy) await conn.busy;
      conn.close();
    },
  };
}
