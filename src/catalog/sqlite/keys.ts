/**
 * SQLite key material: `rekey` rewraps every envkey of one encryption version in one transaction (and forgets
 * the page objects, which name the old ones).
 */
import type { KeyRole, RekeyCounts } from "../catalog.ts";
import type { SqliteScope } from "./scope.ts";
import type { BlobRow } from "../rows.ts";
import { LOOKUP_BATCH } from "./blobs.ts";

export function keyRole(scope: SqliteScope): KeyRole {
  return {
    rewrapEnvkeys: (encVersion, rewrap, onProgress) =>
      scope.write((conn) => {
        const total = (conn.stmt("SELECT count(*) AS n FROM blobs").get() as { n: number }).n;
        const counts: RekeyCounts = { rekeyed: 0, sparse: 0, otherVersion: 0, total };
        const page = conn.stmt(
          "SELECT id, uid, enc_version, enc_envkey FROM blobs WHERE id > ? ORDER BY id LIMIT " + LOOKUP_BATCH,
        );
        const update = conn.stmt("UPDATE blobs SET enc_envkey = ? WHERE id = ?");
        for (let last = 0;;) {
          const rows = page.all(last) as unknown as Pick<BlobRow, "id" | "uid" | "enc_version" | "enc_envkey">[];
          if (rows.length === 0) {
            if (counts.rekeyed > 0) conn.stmt("UPDATE pages SET object = NULL WHERE object IS NOT NULL").run();
            return counts;
          }
          for (const row of rows) {
            if (row.uid === null) counts.sparse++;
            else if (row.enc_version !== encVersion) counts.otherVersion++;
            else update.run(rewrap(row.enc_envkey, row.uid), row.id), counts.rekeyed++;
            onProgress?.(counts);
          }
          last = rows[rows.length - 1].id;
        }
      }),
  };
}
