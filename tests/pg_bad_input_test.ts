/**
 * CLI tests of a PostgreSQL catalog that cannot be used, each one line and changing nothing: a server that
 * never answers (given up after connect_timeout), a wrong password, a missing database, a catalog of a newer
 * schema, and a version whose lock another host holds (the line names its host, pid, command and since).
 */
import { assert, assertEquals, runBacky, type RunResult } from "./helpers.ts";
import { freshDatabase } from "../src/catalog/postgres/test_server.ts";
import { pgClient, run } from "../src/catalog/postgres/connect.ts";
import { parsePgUrl } from "../src/catalog/postgres/url.ts";
import { LockManager } from "../src/lock/lock_manager.ts";
import { LeaseBackend } from "../src/lock/lease_locks.ts";

async function withConfig(
  engine: string,
  fn: (backy: (args: string[]) => Promise<RunResult>, dir: string) => Promise<void>,
) {
  const dir = await Deno.realPath(await Deno.makeTempDir({ prefix: "backy2-pg-bad-input-" }));
  const config = [
    "[DEFAULTS]",
    `logfile: ${dir}/backy.log`,
    "block_size: 4096",
    "hash_function: sha512",
    `lock_dir: ${dir}`,
    "process_name: backy2",
    "encryption_version: 0",
    "disallow_rm_when_younger_than_days: 0",
    "[MetaBackend]",
    "type: backy2.meta_backends.sql",
    `engine: ${engine}`,
    "[DataBackend]",
    "type: backy2.data_backends.file",
    `path: ${dir}/data`,
    "simultaneous_writes: 1",
    "simultaneous_reads: 1",
    "[io_file]",
    "simultaneous_reads: 1",
    "",
  ].join("\n");
  await Deno.writeTextFile(`${dir}/backy.cfg`, config);
  await Deno.writeFile(`${dir}/disk.img`, crypto.getRandomValues(new Uint8Array(65536)));
  try {
    await fn((args) => runBacky(["-c", `${dir}/backy.cfg`, ...args], { env: { BACKY2_HOSTNAME: "here" } }), dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** stderr holds exactly one line, matching `pattern` (besides backy2's closing "Backy failed."). */
function oneLine(result: RunResult, pattern: RegExp, code = 1): void {
  const lines = result.stderr.split("\n").filter((line) => line !== "" && !line.endsWith("] Backy failed."));
  assertEquals(result.code, code, result.stderr);
  assertEquals(lines.length, 1, `one line: ${result.stderr}`);
  assert(pattern.test(lines[0]), lines[0]);
}

async function noBlobs(dir: string): Promise<void> {
  const entries = await Array.fromAsync(Deno.readDir(`${dir}/data`)).catch(() => []);
  assertEquals(entries.length, 0, "no blob was written");
}

Deno.test({
  name: "a PostgreSQL server that never answers, a wrong password and a missing database: one line each",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const held: Deno.Conn[] = [];
    const accepting = (async () => {
      for await (const conn of listener) held.push(conn);
    })();
    const port = (listener.addr as Deno.NetAddr).port;
    try {
      await withConfig(`postgresql://u:p@127.0.0.1:${port}/d?connect_timeout=1`, async (backy, dir) => {
        const started = performance.now();
        oneLine(await backy(["backup", `file://${dir}/disk.img`, "vm"]), /no answer within 1 s \(connect_timeout\)/);
        assert(performance.now() - started < 10_000, "bounded by the connect timeout");
        await noBlobs(dir);
      });
    } finally {
      listener.close();
      for (const conn of held) conn.close();
      await accepting.catch(() => {});
    }
    const db = await freshDatabase();
    try {
      await withConfig(db.url.replace(/:[^:@/]*@/, ":wrong@"), async (backy) => {
        oneLine(await backy(["ls"]), /cannot log in as postgres \(password authentication failed/);
      });
      await withConfig(db.url.replace(/\/[^/?]*$/, "/no_such_database"), async (backy, dir) => {
        oneLine(await backy(["backup", `file://${dir}/disk.img`, "vm"]), /database no_such_database does not exist/);
        await noBlobs(dir);
      });
    } finally {
      await db.drop();
    }
  },
});

Deno.test({
  name: "a PostgreSQL catalog of a newer schema, and a version another host holds: one line each, nothing changed",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const db = await freshDatabase();
    try {
      await withConfig(db.url, async (backy, dir) => {
        assertEquals((await backy(["initdb"])).code, 0);
        const uid = (await backy(["-m", "backup", `file://${dir}/disk.img`, "vm"])).stdout.trim().split("\n")[0];
        const other = new LockManager(
          new LeaseBackend(parsePgUrl(db.url), { host: "elsewhere", pid: 4242, command: "scrub " + uid }, 30, () => {}),
        );
        try {
          assert(await other.tryAcquire(uid, "shared"));
          oneLine(
            await backy(["rm", "-f", uid]),
            new RegExp(
              `'Version ${uid} is locked by scrub ${uid} \\(pid 4242\\) on host elsewhere since \\d{4}-\\d\\d-\\d\\d ` +
                "\\d\\d:\\d\\d:\\d\\d UTC\\.'",
            ),
            100,
          );
        } finally {
          await other.close();
        }
        const sql = pgClient(parsePgUrl(db.url), { max: 1 });
        try {
          await run(sql, "UPDATE meta SET value = '99' WHERE key = 'schema_version'");
          oneLine(await backy(["rm", "-f", uid]), /has schema version 99, newer than this backy2 knows \(2\)\./);
          const [{ versions }] = await run<{ versions: number }>(sql, "SELECT count(*)::int AS versions FROM versions");
          assertEquals(versions, 1, "the version is still there");
          const [{ value }] = await run<{ value: string }>(sql, "SELECT value FROM meta WHERE key = 'schema_version'");
          assertEquals(value, "99");
        } finally {
          await sql.end();
        }
      });
    } finally {
      await db.drop();
    }
  },
});
