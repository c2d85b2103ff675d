/**
 * CLI test of disaster recovery with a PostgreSQL catalog (on the test server of scripts/pg-cluster): versions
 * of every kind (full, differential, continued after a SIGKILL, encrypted, compressed and plain, tagged,
 * protected, expired) are backed up; the whole catalog database is dropped. Without it every command says so
 * in one line; `rebuild-catalog` creates the database and the catalog in it again and brings back every version with the same `-m ls` in every field and byte-identical restores.
 */
import { assert, assertEquals, assertMatch, assertSameFile, expectRun, type Sandbox, withSandbox } from "./helpers.ts";
import { backUpEveryKind } from "./meta_helpers.ts";
import { freshDatabase } from "../src/catalog/postgres/test_server.ts";
import { pgClient, run } from "../src/catalog/postgres/connect.ts";
import { parsePgUrl } from "../src/catalog/postgres/url.ts";
import { unpackIds } from "../src/catalog/block_pages.ts";

/** Blocks the unfinished backups have recorded in their drafts. */
async function recordedBlocks(url: string): Promise<number> {
  const sql = pgClient(parsePgUrl(url), { max: 1 });
  try {
    const rows = await run<{ draft: Uint8Array }>(sql, "SELECT draft FROM versions WHERE draft IS NOT NULL");
    return rows.reduce((sum, row) => sum + unpackIds(row.draft).filter((id) => id !== 0).length, 0);
  } finally {
    await sql.end();
  }
}

/** Starts a backup and kills it with SIGKILL once some of its blocks are recorded. */
async function killMidway(sb: Sandbox, url: string, args: string[]): Promise<void> {
  const child = sb.spawn(args);
  const finished = child.output();
  const deadline = Date.now() + 60_000;
  while (await recordedBlocks(url) === 0 && Date.now() < deadline) await new Promise((done) => setTimeout(done, 50));
  child.kill("SIGKILL");
  const output = await finished;
  assertEquals(output.signal, "SIGKILL", "the throttled backup was still running when killed");
}

Deno.test("PostgreSQL: with the catalog database dropped, rebuild-catalog brings back every version", async () => {
  const db = await freshDatabase();
  try {
    await withSandbox({ blockSize: 4096, catalog: false }, async (sb) => {
      await sb.setConfig("engine", db.url);
      expectRun(await sb.run(["initdb"]), { code: 0, stderr: "" });
      const { images, uids } = await backUpEveryKind(sb, 1402, (args) => killMidway(sb, db.url, args), "x");
      const before = await sb.versions();
      assertEquals(before.length, 5);
      expectRun(await sb.run(["check-store"]), { code: 0, stderr: "" }, "no differences before the disaster");

      await db.drop();
      const gone = /PostgreSQL catalog .*: database \S+ does not exist; create it first \(CREATE DATABASE\)\./;
      expectRun(await sb.run(["ls"]), { code: 1, stderr: gone }, "the catalog database is gone");
      expectRun(await sb.run(["ls"]), { code: 1, stderr: gone }, "reading commands create no database");
      const rebuilt = await sb.run(["rebuild-catalog"]);
      expectRun(rebuilt, { code: 0, stderr: "" });
      assertMatch(rebuilt.stdout, /Rebuilt 5 of 5 versions from the data backend \(0 of them invalid/);
      assertEquals(await sb.versions(), before, "-m ls after the rebuild, every field");
      for (const [kind, uid] of Object.entries(uids)) {
        await sb.restore(uid, `${kind}.restored`);
        await assertSameFile(sb.path(`${kind}.restored`), images[kind], `restore of the ${kind} version`);
      }
      expectRun(await sb.run(["check-store"]), { code: 0, stderr: "" }, "the rebuilt catalog matches the store");
      const again = await sb.run(["rebuild-catalog"]);
      expectRun(again, { code: 0, stderr: "" });
      assertMatch(again.stdout, /Rebuilt 0 of 5 versions .*; 5 were in the catalog already/);
      const next = await sb.backup(["-f", uids.diff, sb.url("diff.img"), "web"]);
      await sb.restore(next, "next.restored");
      await assertSameFile(sb.path("next.restored"), images.diff);
      assert(next !== uids.diff);
    });
  } finally {
    await db.drop();
  }
});
