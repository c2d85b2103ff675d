/**
 * PostgreSQL key material: `rekey` rewraps every envkey of one encryption version in one transaction (and
 * forgets the page objects, which name the old ones).
 */
import type { KeyRole, RekeyCounts } from "../catalog.ts";
import { run } from "./connect.ts";
import { jsonRows, type PgScope } from "./scope.ts";

const PAGE = 5000;

export function keyRole(scope: PgScope): KeyRole {
  return {
    rewrapEnvkeys: (encVersion, rewrap, onProgress) =>
      scope.write(async (sql) => {
        const [{ n }] = await run<{ n: number }>(sql, "SELECT count(*)::bigint AS n FROM blobs");
        const counts: RekeyCounts = { rekeyed: 0, sparse: 0, otherVersion: 0, total: n };
        for (let last = 0;;) {
          const rows = await run<{ id: number; uid: string | null; enc_version: number; enc_envkey: string | null }>(
            sql,
            "SELECT id, uid, enc_version, enc_envkey FROM blobs WHERE id > $1 ORDER BY id LIMIT $2 FOR UPDATE",
            [last, PAGE],
          );
          if (rows.length === 0) {
            if (counts.rekeyed > 0) await run(sql, "UPDATE pages SET object = NULL WHERE object IS NOT NULL");
            return counts;
          }
          const updates: { id: number; envkey: string }[] = [];
          for (const row of rows) {
            if (row.uid === null) counts.sparse++;
            else if (row.enc_version !== encVersion) counts.otherVersion++;
            else updates.push({ id: row.id, envkey: rewrap(row.enc_envkey, row.uid) }), counts.rekeyed++;
            onProgress?.(counts);
          }
          await run(
            sql,
            "UPDATE blobs b SET enc_envkey = r.envkey FROM jsonb_to_recordset($1::jsonb) AS r(id int, envkey text) " +
              "WHERE b.id = r.id",
            [jsonRows(updates)],
          );
          last = rows[rows.length - 1].id;
        }
      }),
  };
}
