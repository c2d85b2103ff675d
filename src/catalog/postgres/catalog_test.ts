/**
 * The catalog conformance suite on the PostgreSQL catalog (a fresh database per test on the test server),
 * and what only the PostgreSQL catalog has: its schema rules and its connection errors.
 */
import assert from "node:assert/strict";
import { catalogConformance } from "../conformance.ts";
import { openPostgresCatalog } from "./catalog.ts";
import { freshDatabase } from "./test_server.ts";
import { pgClient, run } from "./connect.ts";
import { parsePgUrl } from "./url.ts";
import type { Catalog } from "../catalog.ts";

catalogConformance("postgresql", async () => {
  const db = await freshDatabase();
  const catalog = await openPostgresCatalog(db.url, { create: true });
  const others: Catalog[] = [];
  return {
    catalog,
    another: async () => {
      const other = await openPostgresCatalog(db.url, { create: false });
      others.push(other);
      return other;
    },
    destroy: async () => {
      await catalog.close();
      for (const other of others) await other.close().catch(() => {});
      await db.drop();
    },
  };
});

async function withDatabase(fn: (url: string) => Promise<void>): Promise<void> {
  const db = await freshDatabase();
  try {
    await fn(db.url);
  } finally {
    await db.drop();
  }
}

Deno.test("postgresql: only initdb creates the schema; a newer one and a backy2 catalog are refused", async () => {
  await withDatabase(async (url) => {
    await assert.rejects(openPostgresCatalog(url, { create: false }), /has no backy2 tables\. Run 'backy2 initdb'/);
    await (await openPostgresCatalog(url, { create: true, mustBeNew: true })).close();
    await assert.rejects(openPostgresCatalog(url, { create: true, mustBeNew: true }), /already exists/);
    const sql = pgClient(parsePgUrl(url), { max: 1 });
    try {
      await run(sql, "UPDATE meta SET value = '99' WHERE key = 'schema_version'");
      await assert.rejects(openPostgresCatalog(url, { create: false }), /has schema version 99, newer than this/);
      const [row] = await run<{ value: string }>(sql, "SELECT value FROM meta");
      assert.equal(row.value, "99", "the newer catalog stays as it was");
    } finally {
      await sql.end();
    }
  });
  await withDatabase(async (url) => {
    const sql = pgClient(parsePgUrl(url), { max: 1 });
    try {
      await run(sql, "CREATE TABLE alembic_version (version_num text)");
    } finally {
      await sql.end();
    }
    await assert.rejects(openPostgresCatalog(url, { create: true }), /is a backy2 2\.13\.8 catalog/);
  });
});

Deno.test("postgresql: a command that creates the catalog creates a missing database too; others do not", async () => {
  await withDatabase(async (url) => {
    const name = `b2t_new_${crypto.randomUUID().replaceAll("-", "").slice(0, 12)}`;
    const missing = url.replace(/\/[^/?]*$/, `/${name}`);
    await assert.rejects(openPostgresCatalog(missing, { create: false }), /does not exist; create it first/);
    try {
      const catalog = await openPostgresCatalog(missing, { create: true });
      assert.deepEqual(await catalog.listVersions(), []);
      await catalog.close();
      await (await openPostgresCatalog(missing, { create: false })).close();
    } finally {
      const admin = pgClient(parsePgUrl(url), { max: 1 });
      await run(admin, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).finally(() => admin.end());
    }
  });
});

Deno.test("postgresql: a wrong password, a missing database and a refused connection are one line each", async () => {
  await withDatabase(async (url) => {
    const wrong = url.replace(/:[^:@/]*@/, ":wrong@");
    await assert.rejects(openPostgresCatalog(wrong, { create: false }), /cannot log in as postgres/);
    const missing = url.replace(/\/[^/?]*$/, "/no_such_db");
    await assert.rejects(openPostgresCatalog(missing, { create: false }), /database no_such_db does not exist/);
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (listener.addr as Deno.NetAddr).port;
    listener.close();
    await assert.rejects(
      openPostgresCatalog(`postgresql://u:p@127.0.0.1:${port}/d`, { create: false }),
      /cannot connect \(.*refused/i,
    );
  });
});

Deno.test("postgresql: a server that accepts but never answers is given up after connect_timeout", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  const held: Deno.Conn[] = [];
  const accepting = (async () => {
    for await (const conn of listener) held.push(conn);
  })();
  const started = performance.now();
  try {
    await assert.rejects(
      openPostgresCatalog(`postgresql://u:p@127.0.0.1:${port}/d?connect_timeout=1`, { create: false }),
      /no answer within 1 s/,
    );
    assert.ok(performance.now() - started < 5000, "the connect timeout bounds the wait");
  } finally {
    listener.close();
    for (const conn of held) conn.close();
    await accepting.catch(() => {});
  }
});
