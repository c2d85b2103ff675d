/**
 * scripts/bench --postgres: the same jobs on an SQLite and on a PostgreSQL catalog (the server of
 * scripts/pg-cluster, BACKY2_PG_URL): the first backup of the random file, the unchanged 1 TiB differential
 * (target on PostgreSQL: ≤ 5 s), `ls` with 1,000 versions and a fast cleanup of 100,000 candidates. The large
 * catalogs are made through the catalog API; every timed job is the real CLI.
 */
import { join } from "node:path";
import type { Catalog } from "../src/catalog/catalog.ts";
import { openCatalog } from "../src/catalog/open_catalog.ts";
import { freshDatabase } from "../src/catalog/postgres/test_server.ts";
import { newBlobUid } from "../src/store/blob_uid.ts";
import { MiB, type Timed } from "./bench_run.ts";
import type { Row } from "./bench_table.ts";

export interface PgBenchOptions {
  dir: string;
  sourceFile: string;
  sizeMiB: number;
  timed(args: string[]): Promise<Timed>;
}

type Kind = "sqlite" | "postgresql";

const TERABYTE_BLOCKS = 262144;
const LISTED_VERSIONS = 1000;
const CANDIDATES = 100_000;

export async function pgBench(options: PgBenchOptions): Promise<Row[]> {
  const rows: Row[] = [];
  const databases: { drop(): Promise<void> }[] = [];
  try {
    for (const kind of ["sqlite", "postgresql"] as const) {
      const store = async (name: string, backend = "file") => {
        const db = kind === "postgresql" ? await freshDatabase() : null;
        if (db) databases.push(db);
        return writeConfig(options.dir, `${kind}-${name}`, db?.url ?? null, backend);
      };
      rows.push(await firstBackup(options, kind, await store("file")));
      rows.push(await terabyteDifferential(options, kind, await store("tb", "null")));
      rows.push(await listing(options, kind, await store("ls", "null")));
      rows.push(await fastCleanup(options, kind, await store("cleanup", "null")));
    }
  } finally {
    for (const db of databases) await db.drop().catch(() => {});
  }
  return rows;
}

interface BenchConfig {
  path: string;
  engine: string;
  sqlitePath: string | null;
}

/** A config in `{dir}/pg-bench/{name}`; without a PostgreSQL URL, an SQLite file there. */
function writeConfig(dir: string, name: string, postgresUrl: string | null, backend: string): BenchConfig {
  const home = join(dir, "pg-bench", name);
  const sqlitePath = postgresUrl === null ? `${home}/backy.sqlite` : null;
  const engine = postgresUrl ?? `sqlite:///${sqlitePath}`;
  Deno.mkdirSync(home, { recursive: true });
  const path = join(home, "backy.cfg");
  Deno.writeTextFileSync(
    path,
    `[DEFAULTS]
logfile: ${home}/backy.log
block_size: 4194304
hash_function: sha512
lock_dir: ${home}
encryption_version: 0
[MetaBackend]
type: backy2.meta_backends.sql
engine: ${engine}
[DataBackend]
type: backy2.data_backends.${backend}
path: ${home}/data
simultaneous_writes: 5
simultaneous_reads: 5
[io_file]
simultaneous_reads: 5
simultaneous_writes: 5
`,
  );
  return { path, engine, sqlitePath };
}

async function withCatalog<T>(config: BenchConfig, fn: (catalog: Catalog) => Promise<T>): Promise<T> {
  const catalog = await openCatalog({ engine: config.engine, sqlitePath: config.sqlitePath }, true);
  try {
    return await fn(catalog);
  } finally {
    await catalog.close();
  }
}

async function firstBackup(options: PgBenchOptions, kind: Kind, config: BenchConfig): Promise<Row> {
  await options.timed(["-c", config.path, "initdb"]);
  const first = await options.timed(["-c", config.path, "backup", `file://${options.sourceFile}`, "bench"]);
  return {
    job: `${kind}: first backup ${options.sizeMiB} MiB file`,
    ...first,
    mibPerSec: options.sizeMiB / first.seconds,
  };
}

/** The unchanged differential of a 1 TiB base with 262,144 distinct blob references, nothing read. */
async function terabyteDifferential(options: PgBenchOptions, kind: Kind, config: BenchConfig): Promise<Row> {
  const base = await withCatalog(config, async (catalog) => {
    const version = await catalog.createVersion({
      name: "tb",
      snapshotName: "",
      size: TERABYTE_BLOCKS,
      sizeBytes: TERABYTE_BLOCKS * 4 * MiB,
      blockSize: 4 * MiB,
      hashFunction: "sha512",
    });
    const ids = await catalog.addRefs(Array.from({ length: TERABYTE_BLOCKS }, (_, i) => blob(i)));
    await catalog.commitVersion(version.uid, Uint32Array.from(ids));
    return version.uid;
  });
  // A base made through the catalog API has no metadata in the store yet; a real backup would have written it.
  await options.timed(["-c", config.path, "check-store", "--repair"]);
  const hints = join(options.dir, "pg-bench", "empty-hints.json");
  Deno.writeTextFileSync(hints, "[]\n");
  const diff = await options.timed(["-c", config.path, "backup", "-r", hints, "-f", base, "null://1T", "tb"]);
  const target = kind === "postgresql" ? "≤ 5 s" : "≤ 2 s";
  const met = diff.seconds <= (kind === "postgresql" ? 5 : 2);
  return { job: `${kind}: unchanged 1 TiB differential`, ...diff, target: `${target}: ${met ? "met" : "MISSED"}` };
}

/** `ls` of 1,000 versions (best of 3). */
async function listing(options: PgBenchOptions, kind: Kind, config: BenchConfig): Promise<Row> {
  await withCatalog(config, async (catalog) => {
    const sparse = await catalog.sparseRef(4 * MiB);
    for (let i = 0; i < LISTED_VERSIONS; i++) {
      const version = await catalog.createVersion({
        name: `vm${i % 20}`,
        snapshotName: "",
        size: 1,
        sizeBytes: 4 * MiB,
        blockSize: 4 * MiB,
        hashFunction: "sha512",
      });
      await catalog.commitVersion(version.uid, Uint32Array.of(sparse));
    }
  });
  const runs: Timed[] = [];
  for (let i = 0; i < 3; i++) runs.push(await options.timed(["-c", config.path, "ls"]));
  const best = runs.reduce((a, b) => (a.seconds <= b.seconds ? a : b));
  return { job: `${kind}: ls with ${LISTED_VERSIONS} versions (best of 3)`, ...best };
}

/** `cleanup --dangerous-force` of 100,000 delete candidates (a removed version's blobs; null store). */
async function fastCleanup(options: PgBenchOptions, kind: Kind, config: BenchConfig): Promise<Row> {
  await withCatalog(config, async (catalog) => {
    const version = await catalog.createVersion({
      name: "gone",
      snapshotName: "",
      size: CANDIDATES,
      sizeBytes: CANDIDATES * 4 * MiB,
      blockSize: 4 * MiB,
      hashFunction: "sha512",
    });
    const ids = await catalog.addRefs(Array.from({ length: CANDIDATES }, (_, i) => blob(i)));
    await catalog.commitVersion(version.uid, Uint32Array.from(ids));
    await catalog.removeVersion(version.uid);
  });
  const cleanup = await options.timed(["-c", config.path, "cleanup", "--dangerous-force"]);
  return { job: `${kind}: fast cleanup of ${CANDIDATES} candidates`, ...cleanup };
}

function blob(i: number) {
  return {
    uid: newBlobUid(),
    checksum: i.toString(16).padStart(128, "0"),
    size: 4 * MiB,
    encVersion: 0,
    encEnvkey: null,
    encNonce: null,
  };
}
