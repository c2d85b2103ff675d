/**
 * SQLite page objects: `pages.object` holds the name of the block store's page object for each page.
 */
import type { PageObjectRole } from "../catalog.ts";
import type { SqliteScope } from "./scope.ts";

export function pageObjectRole(scope: SqliteScope): PageObjectRole {
  return {
    pageObjects: (hashes) =>
      scope.read((conn) => {
        const find = conn.stmt("SELECT object FROM pages WHERE hash = ?");
        return hashes.map((hash) => (find.get(hash) as { object: Uint8Array | null } | undefined)?.object ?? null);
      }),
    setPageObjects: (records) =>
      scope.write((conn) => {
        const set = conn.stmt("UPDATE pages SET object = ? WHERE hash = ?");
        for (const { hash, object } of records) set.run(object, hash);
      }),
  };
}
