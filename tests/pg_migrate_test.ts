/**
 * CLI tests of moving catalogs into PostgreSQL with `migrate-catalog` (on the test server of
 * scripts/pg-cluster): the backy2 2.13.8 fixture's catalog, copied into a PostgreSQL database with backy2's
 * own tables, migrates like its SQLite file does; and a catalog of ours (SQLite) moves into PostgreSQL with its
 * versions, tags, stats and blocks. The fixture's blobs are read where they lie; restores match its manifest.
 */
import { DatabaseSync } from "node:sqlite";
import { assert, assertEquals, expectRun, info, runBacky, type RunResult, sha256File } from "./helpers.ts";
import { fixtureDir } from "./fixture_path.ts";
import { freshDatabase } from "../src/catalog/postgres/test_server.ts";
import { pgClient, run } from "../src/catalog/postgres/connect.ts";
import { parsePgUrl } from "../src/catalog/postgres/url.ts";

interface Manifest {
  encryption_key: string;
  block_size: number;
  versions: { seq: number; uid: string; restore_sha256: string }[];
}

/** backy2 2.13.8's tables as SQLAlchemy creates them on PostgreSQL. */
const BACKY2_SCHEMA = `
  CREATE TABLE versions (uid varchar(36) PRIMARY KEY, date timestamp NOT NULL, expire timestamp,
    name varchar(2048) NOT NULL, snapshot_name varchar(2048) NOT NULL DEFAULT '', size bigint NOT NULL,
    size_bytes bigint NOT NULL, valid integer NOT NULL, protected integer NOT NULL);
  CREATE TABLE tags (version_uid varchar(36) NOT NULL REFERENCES versions (uid), name varchar(2048) NOT NULL,
    PRIMARY KEY (version_uid, name));
  CREATE TABLE blocks (uid varchar(32), version_uid varchar(36) NOT NULL REFERENCES versions (uid),
    id integer NOT NULL, date timestamp NOT NULL, checksum varchar(128), size bigint, valid integer NOT NULL,
    enc_version integer NOT NULL, enc_envkey varchar(80), enc_nonce varchar(32), PRIMARY KEY (version_uid, id));
  CREATE TABLE stats (date timestamp NOT NULL, id serial PRIMARY KEY, version_uid varchar(36),
    version_name varchar(2048) NOT NULL, version_size_bytes bigint NOT NULL, version_size_blocks bigint NOT NULL,
    bytes_read bigint NOT NULL, blocks_read bigint NOT NULL, bytes_written bigint NOT NULL,
    blocks_written bigint NOT NULL, bytes_found_dedup bigint NOT NULL, blocks_found_dedup bigint NOT NULL,
    bytes_sparse bigint NOT NULL, blocks_sparse bigint NOT NULL, duration_seconds bigint NOT NULL);
  CREATE TABLE deleted_blocks (id bigserial PRIMARY KEY, uid varchar(32), size bigint,
    delete_candidate integer NOT NULL, time bigint NOT NULL);
  CREATE TABLE alembic_version (version_num varchar(32) PRIMARY KEY);
  INSERT INTO alembic_version VALUES ('30349b678801');
`;

/** Copies the fixture's SQLite catalog, row by row, into `url` (with backy2's PostgreSQL tables). */
async function copyIntoPostgres(sqlitePath: string, url: string): Promise<void> {
  const db = new DatabaseSync(sqlitePath, { readOnly: true });
  const sql = pgClient(parsePgUrl(url), { max: 1 });
  try {
    await sql.unsafe(BACKY2_SCHEMA);
    for (const table of ["versions", "tags", "blocks", "stats"]) {
      const rows = db.prepare(`SELECT * FROM ${table}`).all() as Record<string, unknown>[];
      for (const row of rows) {
        const columns = Object.keys(row);
        const values = columns.map((column) => row[column] === "" && column === "expire" ? null : row[column]);
        await run(
          sql,
          `INSERT INTO ${table} (${columns.join(", ")}) VALUES (${columns.map((_, i) => `$${i + 1}`).join(", ")})`,
          values,
        );
      }
    }
  } finally {
    db.close();
    await sql.end();
  }
}

function config(dir: string, engine: string, manifest: Manifest): string {
  return [
    "[DEFAULTS]",
    `logfile: ${dir}/backy.log`,
    `block_size: ${manifest.block_size}`,
    "hash_function: sha512",
    `lock_dir: ${dir}`,
    "process_name: backy2",
    "encryption_version: 1",
    `encryption_key: ${manifest.encryption_key}`,
    "[MetaBackend]",
    "type: backy2.meta_backends.sql",
    `engine: ${engine}`,
    "[DataBackend]",
    "type: backy2.data_backends.file",
    `path: ${dir}/data`,
    "simultaneous_writes: 2",
    "simultaneous_reads: 2",
    "[io_file]",
    "simultaneous_reads: 2",
    "",
  ].join("\n");
}

Deno.test({
  name: "migrate-catalog brings a backy2 PostgreSQL catalog and an SQLite catalog of ours into PostgreSQL",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const manifest: Manifest = JSON.parse(await Deno.readTextFile(`${fixtureDir()}/MANIFEST.json`));
    const dir = await Deno.realPath(await Deno.makeTempDir({ prefix: "backy2-pg-migrate-" }));
    const databases = await Promise.all([freshDatabase(), freshDatabase(), freshDatabase()]);
    const [backy2Db, fromBacky2, fromOurs] = databases;
    try {
      await Deno.symlink(`${fixtureDir()}/data`, `${dir}/data`);
      await copyIntoPostgres(`${fixtureDir()}/backy.sqlite`, backy2Db.url);
      const cfg = async (name: string, engine: string) => {
        await Deno.writeTextFile(`${dir}/${name}.cfg`, config(dir, engine, manifest));
        return (args: string[]): Promise<RunResult> => runBacky(["-c", `${dir}/${name}.cfg`, ...args]);
      };
      const sqliteOurs = await cfg("ours", `sqlite:///${dir}/ours.sqlite`);
      const pgFromBacky2 = await cfg("pg1", fromBacky2.url);
      const pgFromOurs = await cfg("pg2", fromOurs.url);
      const fixtureEngine = `sqlite:///${fixtureDir()}/backy.sqlite`;
      const migrated = (engine: string) => info(`Migrated 9 versions (421 blocks) from ${engine}.`);

      const first = await sqliteOurs(["migrate-catalog", fixtureEngine]);
      expectRun(first, { code: 0, stderr: "" });
      assert(first.stdout.includes(migrated(fixtureEngine)), first.stdout);
      const second = await pgFromBacky2(["migrate-catalog", backy2Db.url]);
      expectRun(second, { code: 0, stderr: "" });
      assert(second.stdout.includes(migrated(backy2Db.url)), second.stdout);
      const third = await pgFromOurs(["migrate-catalog", `sqlite:///${dir}/ours.sqlite`]);
      expectRun(third, { code: 0, stderr: "" });
      assert(third.stdout.includes(migrated(`sqlite:///${dir}/ours.sqlite`)), third.stdout);

      for (const listing of [["-ms", "ls"], ["-ms", "stats"], ["-ms", "ls", "-f", "uid,tags,expire,protected"]]) {
        const expected = (await sqliteOurs(listing)).stdout;
        assertEquals((await pgFromBacky2(listing)).stdout, expected, `${listing.join(" ")} from backy2's PostgreSQL`);
        assertEquals((await pgFromOurs(listing)).stdout, expected, `${listing.join(" ")} from our SQLite catalog`);
      }
      for (const version of manifest.versions.filter((v) => v.seq > 1)) {
        for (const [name, runIt] of [["pg1", pgFromBacky2], ["pg2", pgFromOurs]] as const) {
          const target = `${dir}/${name}-v${version.seq}.img`;
          expectRun(await runIt(["restore", "-f", version.uid, `file://${target}`]), { code: 0 }, target);
          assertEquals(await sha256File(target), version.restore_sha256, target);
          await Deno.remove(target);
        }
      }
      const again = await pgFromOurs(["migrate-catalog", `sqlite:///${dir}/ours.sqlite`]);
      expectRun(again, { code: 0 });
      assert(again.stdout.includes("not migrated again"), "a second run skips what is there");
    } finally {
      await Deno.remove(dir, { recursive: true });
      for (const db of databases) await db.drop();
    }
  },
});
