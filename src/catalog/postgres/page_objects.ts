/**
 * PostgreSQL page objects: `pages.object` holds the name of the block store's page object for each page, read
 * and set in bulk for a whole version's pages (hashes and names travel as hex text, as block_maps.ts sends
 * pages). Rows are locked in hash order, as commits lock them, so that the two wait for each other instead of
 * deadlocking.
 */
import { Buffer } from "node:buffer";
import type { PageObjectRole } from "../catalog.ts";
import { run } from "./connect.ts";
import type { PgScope } from "./scope.ts";

export function pageObjectRole(scope: PgScope): PageObjectRole {
  return {
    pageObjects: (hashes) =>
      scope.read(async (sql) => {
        if (hashes.length === 0) return [];
        const rows = await run<{ hash: string; object: Uint8Array | null }>(
          sql,
          "SELECT encode(hash, 'hex') AS hash, object FROM pages WHERE hash = ANY(SELECT decode(h, 'hex') " +
            "FROM unnest($1::text[]) AS h)",
          [hashes.map(hex)],
        );
        const found = new Map(rows.map((row) => [row.hash, row.object && new Uint8Array(row.object)]));
        return hashes.map((hash) => found.get(hex(hash)) ?? null);
      }),
    setPageObjects: (records) =>
      scope.write(async (sql) => {
        const byHash = new Map(records.map((record) => [hex(record.hash), hex(record.object)]));
        const hashes = [...byHash.keys()].sort();
        if (hashes.length === 0) return;
        await run(
          sql,
          "SELECT 1 FROM pages WHERE hash = ANY(SELECT decode(h, 'hex') FROM unnest($1::text[]) AS h) " +
            "ORDER BY hash FOR UPDATE",
          [hashes],
        );
        await run(
          sql,
          "UPDATE pages p SET object = decode(r.object, 'hex') FROM unnest($1::text[], $2::text[]) AS r(hash, object) " +
            "WHERE p.hash = decode(r.hash, 'hex')",
          [hashes, hashes.map((hash) => byHash.get(hash)!)],
        );
      }),
  };
}

function hex(data: Uint8Array): string {
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString("hex");
}
