/**
 * Unit tests of the lease locks on the PostgreSQL test server: two managers (two "hosts") exclude each other,
 * a refusal names the holder, `locks` lists live leases only, and a holder whose heartbeat stopped loses its
 * leases to the next contender.
 */
import assert from "node:assert/strict";
import { LockManager } from "./lock_manager.ts";
import { LeaseBackend } from "./lease_locks.ts";
import { freshDatabase } from "../catalog/postgres/test_server.ts";
import { openPostgresCatalog } from "../catalog/postgres/catalog.ts";
import { parsePgUrl } from "../catalog/postgres/url.ts";
import { pgClient, run } from "../catalog/postgres/connect.ts";

interface Host {
  locks: LockManager;
  lost: string[];
}

function host(url: string, name: string, leaseSeconds = 30): Host {
  const lost: string[] = [];
  const backend = new LeaseBackend(
    parsePgUrl(url),
    { host: name, pid: name.length, command: `backup on ${name}` },
    leaseSeconds,
    (why) => lost.push(why),
  );
  return { locks: new LockManager(backend), lost };
}

async function withCatalog(fn: (url: string) => Promise<void>): Promise<void> {
  const db = await freshDatabase();
  try {
    await (await openPostgresCatalog(db.url, { create: true })).close();
    await fn(db.url);
  } finally {
    await db.drop();
  }
}

Deno.test({
  name: "leases: hosts exclude each other, a refusal names the holder, and modes change in place",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () =>
    withCatalog(async (url) => {
      const [a, b] = [host(url, "alpha"), host(url, "beta")];
      try {
        const held = await a.locks.acquire("v1", "exclusive", () => new Error("refused"));
        await assert.rejects(
          b.locks.acquire("v1", "shared", (holder) => new Error(`locked by ${holder}`)),
          /locked by backup on alpha \(pid 5\) on host alpha since \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC/,
        );
        assert.deepEqual((await b.locks.list()).map((l) => [l.name, l.mode, l.host]), [["v1", "exclusive", "alpha"]]);
        await held.release();
        const [sa, sb] = [await a.locks.tryAcquire("backy", "shared"), await b.locks.tryAcquire("backy", "shared")];
        assert.ok(sa && sb, "shared leases coexist");
        assert.equal(await a.locks.tryAcquire("backy", "exclusive"), null, "beta's shared lease prevents it");
        await sb.release();
        const exclusive = await a.locks.tryAcquire("backy", "exclusive");
        assert.ok(exclusive);
        assert.equal(await b.locks.tryAcquire("backy", "shared"), null);
        await exclusive.release();
        assert.ok(await b.locks.tryAcquire("backy", "shared"), "alpha went back to shared");
        assert.deepEqual(a.lost, []);
      } finally {
        await Promise.all([a.locks.close(), b.locks.close()]);
      }
    }),
});

Deno.test({
  name: "leases: a holder whose heartbeat stopped loses its leases to the next contender",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () =>
    withCatalog(async (url) => {
      // Alpha beats every 10 s, so its heartbeat stays as set below; beta breaks leases older than 2 s.
      const [a, b] = [host(url, "alpha", 30), host(url, "beta", 2)];
      const admin = pgClient(parsePgUrl(url), { max: 1 });
      try {
        assert.ok(await a.locks.tryAcquire("v1", "exclusive"));
        assert.equal(await b.locks.tryAcquire("v1", "exclusive"), null, "a live lease holds");
        await run(admin, "UPDATE leases SET heartbeat = now() - interval '1 hour' WHERE host = 'alpha'");
        assert.ok(await b.locks.tryAcquire("v1", "exclusive"), "the expired lease was broken");
        for (let i = 0; i < 50 && a.lost.length === 0; i++) await new Promise((r) => setTimeout(r, 100));
        assert.equal(a.lost.length, 1, "alpha learns that it lost its leases");
      } finally {
        await admin.end();
        await Promise.all([a.locks.close().catch(() => {}), b.locks.close()]);
      }
    }),
});
