/**
 * Test support: throw-away databases on the test server of scripts/pg-cluster, whose URL (with an
 * administrator's rights) is in BACKY2_PG_URL. Without it the tests that need a server fail, naming how to
 * start one; they are never skipped.
 */
import { pgClient, run } from "./connect.ts";
import { parsePgUrl } from "./url.ts";

export function adminUrl(): string {
  const url = Deno.env.get("BACKY2_PG_URL");
  if (!url) {
    throw new Error(
      "BACKY2_PG_URL is not set. Run the suite with scripts/test (it starts a PostgreSQL server), or start one " +
        "with `scripts/pg-cluster start /tmp/b2pg` and `eval $(scripts/pg-cluster env /tmp/b2pg)`.",
    );
  }
  return url;
}

/** A new empty database; `drop` ends its connections and removes it. */
export async function freshDatabase(): Promise<{ url: string; name: string; drop(): Promise<void> }> {
  const admin = adminUrl();
  const name = `b2t_${crypto.randomUUID().replaceAll("-", "").slice(0, 16)}`;
  const sql = pgClient(parsePgUrl(admin), { max: 1 });
  try {
    await run(sql, `CREATE DATABASE ${name}`);
  } finally {
    await sql.end();
  }
  const url = admin.replace(/\/[^/?]*(\?|$)/, `/${name}$1`);
  return {
    url,
    name,
    drop: async () => {
      const sql = pgClient(parsePgUrl(admin), { max: 1 });
      try {
        await run(sql, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await sql.end();
      }
    },
  };
}
