/**
 * CLI tests against the real backy2 2.13.8 fixture (`shared/fixtures/backy2-2.13.8`, `$BACKY2_FIXTURE`
 * overrides): its catalog is migrated into ours with `migrate-catalog`, its blobs are read where they lie,
 * and its metadata dumps are imported into empty catalogs.
 *
 * Checked: the golden `ls`/`du`/`stats` outputs byte for byte, restores and scrubs of every version against
 * the reference's captured runs (version 1 holds a corrupted blob; versions 7–9 are encryption v1), our 2.12
 * export against the reference's dumps byte for byte, imports of the 2.1/2.2/2.10/2.12 dumps, export →
 * import round trips (2.12 and our lossless deno-1), import errors, and migrating older or foreign catalogs.
 */
import { DatabaseSync } from "node:sqlite";
import {
  assert,
  assertEquals,
  COMPLETE,
  createCatalog,
  error,
  type Expected,
  expectRun,
  info,
  runBacky,
  type RunResult,
  sha256File,
  stripProgress,
} from "./helpers.ts";
import { fixtureDir } from "./fixture_path.ts";

interface ManifestVersion {
  seq: number;
  uid: string;
  restore_sha256: string;
  derived_exports: Record<string, string> | null;
}

interface Manifest {
  encryption_key: string;
  block_size: number;
  versions: ManifestVersion[];
  derived_exports_verified_by_reference_import: Record<string, { ls: string; restore_sha256: string }>;
}

let loadedManifest: Manifest | undefined;

/** The fixture's MANIFEST.json, read on first use. */
function manifest(): Manifest {
  return loadedManifest ??= JSON.parse(Deno.readTextFileSync(`${fixtureDir()}/MANIFEST.json`));
}

/** A writable copy of the fixture, with `@FIXTURE@` replaced in its backy.cfg. */
class FixtureCopy {
  private constructor(readonly dir: string) {}

  static async create(): Promise<FixtureCopy> {
    const dir = await Deno.realPath(await Deno.makeTempDir({ prefix: "backy2-fixture-test-" }));
    await copyTree(fixtureDir(), dir);
    const cfg = await Deno.readTextFile(`${dir}/backy.cfg`);
    await Deno.writeTextFile(`${dir}/backy.cfg`, cfg.replaceAll("@FIXTURE@", dir));
    return new FixtureCopy(dir);
  }

  get engine(): string {
    return `sqlite:///${this.dir}/backy.sqlite`;
  }

  /**
   * A catalog of ours (`NAME.sqlite`) reading the fixture's blobs with its key: new and empty, or with
   * `create` false not there yet (only initdb and migrate-catalog create one).
   */
  async catalog(name: string, create = true): Promise<OurCatalog> {
    const config = `${this.dir}/${name}.cfg`;
    await Deno.writeTextFile(config, ourConfig(this.dir, `${this.dir}/${name}.sqlite`));
    if (create) await createCatalog(`${this.dir}/${name}.sqlite`);
    return new OurCatalog(this, config);
  }

  /** A catalog of ours that migrate-catalog created, holding the migrated fixture catalog. */
  async migrated(name: string): Promise<OurCatalog> {
    const catalog = await this.catalog(name, false);
    const args = ["migrate-catalog", this.engine];
    expectRun(await catalog.run(args), {
      code: 0,
      stderr: "",
      stdout: catalog.commandLine(args) + info(`Migrated 9 versions (421 blocks) from ${this.engine}.`) + COMPLETE,
    });
    return catalog;
  }

  /** A golden output with the copy's paths and this catalog's config in place of the reference's. */
  golden(name: string, stream: "stdout" | "stderr", config: string): string {
    return Deno.readTextFileSync(`${fixtureDir()}/golden/${name}.${stream}`)
      .replaceAll("@FIXTURE@/backy.cfg", config)
      .replaceAll("@FIXTURE@", this.dir);
  }

  async remove(): Promise<void> {
    await Deno.remove(this.dir, { recursive: true });
  }
}

/** Golden outputs this tool differs from on purpose (README "Differences from backy2 2.13.8"). */
type Golden = { code: number; stdout: string; stderr: string };
const DELIBERATE: Record<string, (golden: Golden) => Expected> = {
  // A restore that wrote a block failing its checksum exits 6, without "Backy complete.".
  restore_v1: (golden) => ({ ...golden, code: 6, stdout: golden.stdout.replace(COMPLETE, "") }),
};

class OurCatalog {
  constructor(readonly fixture: FixtureCopy, readonly config: string) {}

  run(args: string[], stdin?: string): Promise<RunResult> {
    return runBacky(["-c", this.config, ...args], stdin === undefined ? {} : { stdin });
  }

  commandLine(args: string[]): string {
    return info(`$ backy2 -c ${this.config} ${args.join(" ")}`);
  }

  /** Runs the golden entry NAME (its argv after the config) and requires the reference's rc, stdout, stderr. */
  async matchesGolden(name: string, args: string[]): Promise<void> {
    const rc = Number(Deno.readTextFileSync(`${fixtureDir()}/golden/${name}.rc`));
    const expected = (stream: "stdout" | "stderr") => stripProgress(this.fixture.golden(name, stream, this.config));
    const golden: Golden = { code: rc, stdout: expected("stdout"), stderr: expected("stderr") };
    expectRun(await this.run(args), DELIBERATE[name]?.(golden) ?? golden, name);
  }

  /** `-ms ls` as printed. */
  async listing(): Promise<string> {
    const result = await this.run(["-ms", "ls"]);
    expectRun(result, { code: 0, stderr: "" });
    return result.stdout;
  }

  async importDump(path: string): Promise<void> {
    expectRun(await this.run(["import", path]), { code: 0, stderr: "" }, `import ${path}`);
  }

  /** Restores `uid` into the copy and returns the sha256 of the result. */
  async restoreSha(uid: string, target: string): Promise<string> {
    const path = `${this.fixture.dir}/${target}`;
    const result = await this.run(["restore", "-f", uid, `file://${path}`]);
    // Version 1's corrupted blob is written as stored, and the restore exits 6 (backy2: 0).
    assertEquals(result.code, uid === version(1).uid ? 6 : 0, `restore ${uid}: ${result.stderr}`);
    return await sha256File(path);
  }
}

function ourConfig(dir: string, catalog: string): string {
  return [
    "[DEFAULTS]",
    `logfile: ${dir}/backy.log`,
    `block_size: ${manifest().block_size}`,
    "hash_function: sha512",
    `lock_dir: ${dir}`,
    "process_name: backy2",
    "disallow_rm_when_younger_than_days: 0",
    "encryption_version: 1",
    `encryption_key: ${manifest().encryption_key}`,
    "",
    "[MetaBackend]",
    "type: backy2.meta_backends.sql",
    `engine: sqlite:///${catalog}`,
    "",
    "[DataBackend]",
    "type: backy2.data_backends.file",
    `path: ${dir}/data`,
    "simultaneous_writes: 2",
    "simultaneous_reads: 2",
    "",
    "[io_file]",
    "simultaneous_reads: 2",
    "",
  ].join("\n");
}

/** Copies a directory tree, making every copy writable (the fixture is read-only). */
async function copyTree(from: string, to: string): Promise<void> {
  await Deno.mkdir(to, { recursive: true });
  for await (const entry of Deno.readDir(from)) {
    const [source, target] = [`${from}/${entry.name}`, `${to}/${entry.name}`];
    if (entry.isDirectory) await copyTree(source, target);
    else {
      await Deno.copyFile(source, target);
      await Deno.chmod(target, 0o644);
    }
  }
  await Deno.chmod(to, 0o755);
}

function fixtureTest(name: string, fn: (fixture: FixtureCopy) => Promise<void>): void {
  Deno.test({
    name,
    async fn() {
      const fixture = await FixtureCopy.create();
      try {
        await fn(fixture);
      } finally {
        await fixture.remove();
      }
    },
  });
}

const version = (seq: number) => manifest().versions.find((v) => v.seq === seq)!;

// ---- Migration and reports ----

const GOLDEN_REPORTS: [string, string[]][] = [
  ["ls", ["ls"]],
  ["ls_ms", ["-ms", "ls"]],
  ["ls_m_fields", ["-m", "ls", "-f", "uid,name,size,valid,tags"]],
  ["ls_r", ["-r", "ls"]],
  ["ls_ms_expired", ["-ms", "ls", "-e"]],
  ["ls_ms_name_db01", ["-ms", "ls", "db01"]],
  ["du_1", ["du", "bbecd7ca-e9aa-11f1-aa6b-02fc00000001"]],
  ["du_m_1", ["-m", "du", "bbecd7ca-e9aa-11f1-aa6b-02fc00000001"]],
  ["du_2", ["du", "bd7cdc5c-e9aa-11f1-aa6b-02fc00000001"]],
  ["du_m_2", ["-m", "du", "bd7cdc5c-e9aa-11f1-aa6b-02fc00000001"]],
  ["du_ms_all", ["-ms", "du"]],
  ["stats", ["stats"]],
  ["stats_ms", ["-ms", "stats"]],
  ["stats_r", ["-r", "stats"]],
];

fixtureTest("a migrated backy2 catalog lists, sizes and counts exactly as the reference did", async (fixture) => {
  const before = await sha256File(`${fixture.dir}/backy.sqlite`);
  const catalog = await fixture.migrated("deno");
  for (const [name, args] of GOLDEN_REPORTS) await catalog.matchesGolden(name, args);
  assertEquals(await sha256File(`${fixture.dir}/backy.sqlite`), before, "the backy2 catalog is left untouched");
});

fixtureTest("migrate-catalog run again skips every version with a warning and duplicates nothing", async (fixture) => {
  const catalog = await fixture.migrated("deno");
  const args = ["migrate-catalog", fixture.engine];
  const warnings = manifest().versions.map((v) =>
    ` WARNING: [backy2.logging] Version ${v.uid} is in this catalog already; not migrated again.\n`
  );
  expectRun(await catalog.run(args), {
    code: 0,
    stderr: "",
    stdout: catalog.commandLine(args) + warnings.join("") +
      info(`Migrated 0 versions (0 blocks) from ${fixture.engine}.`) + COMPLETE,
  });
  await catalog.matchesGolden("stats_ms", ["-ms", "stats"]);
  await catalog.matchesGolden("ls_ms", ["-ms", "ls"]);
});

fixtureTest(
  "a migrated backy2 store gets its metadata objects (check-store --repair for one migrated before them), and " +
    "rebuild-catalog from them alone gives the reference's listings and restores",
  async (fixture) => {
    const catalog = await fixture.migrated("deno");
    expectRun(await catalog.run(["check-store"]), { code: 0, stderr: "" }, "migrate-catalog wrote every object");
    // As if the catalog had been migrated before this tool wrote objects.
    await Deno.remove(`${fixture.dir}/data/meta`, { recursive: true });
    const old = await catalog.run(["-ms", "check-store"]);
    expectRun(old, { code: 20 });
    assertEquals(old.stdout.split("\n").filter((line) => line.includes("|missing|")).length, 9);
    expectRun(await catalog.run(["check-store", "--repair"]), { code: 0, stderr: "" });
    for (const suffix of ["", "-wal", "-shm"]) await Deno.remove(`${fixture.dir}/deno.sqlite${suffix}`).catch(() => {});
    const rebuilt = await catalog.run(["rebuild-catalog"]);
    expectRun(rebuilt, { code: 0, stderr: "" });
    for (const [name, args] of GOLDEN_REPORTS.filter(([name]) => name.startsWith("ls"))) {
      await catalog.matchesGolden(name, args);
    }
    const v2 = version(2);
    await catalog.matchesGolden("restore_v2", ["restore", v2.uid, `file://${fixture.dir}/restore-v2.img`]);
    assertEquals(await sha256File(`${fixture.dir}/restore-v2.img`), v2.restore_sha256);
  },
);

// ---- Restore and scrub ----

fixtureTest(
  "every migrated version restores as the reference restored it (v1: its corrupted blob)",
  async (fixture) => {
    const catalog = await fixture.migrated("deno");
    for (const v of manifest().versions) {
      await catalog.matchesGolden(`restore_v${v.seq}`, [
        "restore",
        v.uid,
        `file://${fixture.dir}/restore-v${v.seq}.img`,
      ]);
      assertEquals(await sha256File(`${fixture.dir}/restore-v${v.seq}.img`), v.restore_sha256, `restore v${v.seq}`);
    }
    const row = (await catalog.listing()).split("\n").find((line) => line.includes(version(1).uid))!;
    assert(row.endsWith("|0|1|b_daily,b_monthly,b_weekly|"), `version 1 is invalid after its restore: ${row}`);
  },
);

fixtureTest("every migrated version scrubs as the reference scrubbed it (v1 exits 20)", async (fixture) => {
  const catalog = await fixture.migrated("deno");
  for (const v of manifest().versions) await catalog.matchesGolden(`scrub_v${v.seq}`, ["scrub", v.uid]);
});

// ---- Export ----

fixtureTest("export of every migrated version equals the reference's 2.12 dump byte for byte", async (fixture) => {
  const catalog = await fixture.migrated("deno");
  for (const v of manifest().versions) {
    const reference = await Deno.readTextFile(`${fixtureDir()}/exports/${v.uid}.v2.12.csv`);
    const path = `${fixture.dir}/ours-${v.uid}.csv`;
    expectRun(await catalog.run(["export", v.uid, path]), { code: 0, stderr: "" });
    assertEquals(await Deno.readTextFile(path), reference, `export of v${v.seq}`);
    // To stdout the reference prints one more newline.
    expectRun(await catalog.run(["-m", "export", v.uid, "-"]), { code: 0, stderr: "", stdout: `${reference}\n` });
  }
  expectRun(await catalog.run(["export", "nope", "-"]), {
    code: 100,
    stderr: error("'Version nope not found.'") + error("Backy failed.\n"),
  });
});

// ---- Import ----

interface FixtureDump {
  path: string;
  v: ManifestVersion;
  ls?: string;
}

/** Every dump in exports/ with the version it holds and what the reference's import listed for it. */
function fixtureDumps(): FixtureDump[] {
  const dumps: FixtureDump[] = manifest().versions.map((v) => ({ path: `exports/${v.uid}.v2.12.csv`, v }));
  for (const v of manifest().versions) {
    for (const path of Object.values(v.derived_exports ?? {})) {
      dumps.push({ path, v, ls: manifest().derived_exports_verified_by_reference_import[path].ls });
    }
  }
  return dumps;
}

fixtureTest("each fixture dump (2.1, 2.2, 2.10, 2.12) imports into an empty catalog and restores", async (fixture) => {
  for (const [i, dump] of fixtureDumps().entries()) {
    const catalog = await fixture.catalog(`empty${i}`);
    await catalog.importDump(`${fixture.dir}/${dump.path}`);
    if (dump.ls !== undefined) {
      const result = await catalog.run(["-ms", "ls", "-f", "uid,snapshot_name,protected,expire,valid"]);
      expectRun(result, { code: 0, stderr: "", stdout: `${dump.ls}\n` }, dump.path);
    }
    assertEquals(await catalog.restoreSha(dump.v.uid, `import${i}.img`), dump.v.restore_sha256, dump.path);
  }
});

fixtureTest("export, import into an empty catalog and restore give the same dump and bytes", async (fixture) => {
  const source = await fixture.migrated("deno");
  for (const v of manifest().versions) {
    const dump = `${fixture.dir}/roundtrip-${v.seq}.csv`;
    expectRun(await source.run(["export", v.uid, dump]), { code: 0, stderr: "" });
    const target = await fixture.catalog(`roundtrip${v.seq}`);
    await target.importDump(dump);
    expectRun(await target.run(["-m", "export", v.uid, "-"]), {
      code: 0,
      stderr: "",
      stdout: `${await Deno.readTextFile(dump)}\n`,
    });
    assertEquals(await target.restoreSha(v.uid, `roundtrip-${v.seq}.img`), v.restore_sha256, `v${v.seq}`);
  }
});

fixtureTest("a deno-1 dump keeps tags, expire time, protection, exact dates and stats", async (fixture) => {
  const source = await fixture.migrated("deno");
  const target = await fixture.catalog("deno1");
  for (const v of manifest().versions) {
    const exported = await source.run(["-m", "export", "-F", "deno-1", v.uid, "-"]);
    expectRun(exported, { code: 0, stderr: "" });
    assert(exported.stdout.startsWith("backy2-deno Version 1 metadata dump\n"), exported.stdout.slice(0, 80));
    expectRun(await target.run(["import", "-"], exported.stdout), { code: 0, stderr: "" }, `import v${v.seq}`);
    const again = await target.run(["-m", "export", "--format", "deno-1", v.uid, "-"]);
    expectRun(again, { code: 0, stderr: "", stdout: exported.stdout }, `re-export v${v.seq}`);
  }
  await target.matchesGolden("ls_ms", ["-ms", "ls"]);
  await target.matchesGolden("stats_ms", ["-ms", "stats"]);
  for (const v of manifest().versions) {
    const stdout = await target.run(["-m", "export", v.uid, "-"]);
    expectRun(stdout, {
      code: 0,
      stdout: `${await Deno.readTextFile(`${fixtureDir()}/exports/${v.uid}.v2.12.csv`)}\n`,
    });
  }
  assertEquals(await target.restoreSha(version(9).uid, "deno1-v9.img"), version(9).restore_sha256);
});

/** Runs `import` of TEXT (as a file) and requires exit CODE with exactly MESSAGE as its ERROR line. */
async function importFails(catalog: OurCatalog, text: string, code: number, message: string): Promise<void> {
  const path = `${catalog.fixture.dir}/bad.csv`;
  await Deno.writeTextFile(path, text);
  const args = ["import", path];
  expectRun(await catalog.run(args), { code, stdout: catalog.commandLine(args), stderr: error(message) }, message);
}

fixtureTest("import refuses a wrong signature, malformed rows and an existing uid, changing nothing", async (fx) => {
  const catalog = await fx.migrated("deno");
  const listing = await catalog.listing();
  const good = (await Deno.readTextFile(`${fixtureDir()}/exports/${version(2).uid}.v2.12.csv`)).split("\r\n");
  const other = "0d2b7b4e-e9aa-11f1-aa6b-02fc00000001";
  // The same dump under a new uid imports; each corruption of it below must not.
  const renamed = good.map((line) => line.replaceAll(version(2).uid, other));
  const bad = (line: number, edit: (fields: string[]) => string[]) =>
    renamed.map((text, i) => i === line - 1 ? edit(text.split(",")).join(",") : text).join("\r\n");

  await importFails(catalog, "backy2 Version 3.0 metadata dump\r\n", 23, "Wrong import format.");
  await importFails(catalog, "", 23, "Wrong import format.");
  await importFails(
    catalog,
    good.join("\r\n"),
    22,
    `'Version ${version(2).uid} already exists and cannot be imported.'`,
  );
  await importFails(
    catalog,
    bad(5, (f) => f.slice(0, 9)),
    23,
    "Line 5: the block row has 9 fields; format 2.12 has 10 (uid, version_uid, id, date, checksum, size, valid, " +
      "enc_version, enc_envkey, enc_nonce).",
  );
  await importFails(
    catalog,
    bad(2, (f) => [f[0], "2026-13-01 00:00:00", ...f.slice(2)]),
    23,
    "Line 2: bad date: time data '2026-13-01 00:00:00' does not match format '%Y-%m-%d %H:%M:%S'.",
  );
  await importFails(
    catalog,
    bad(7, (f) => [...f.slice(0, 5), "4k", ...f.slice(6)]),
    23,
    "Line 7: size must be a non-negative integer, not '4k'.",
  );
  await importFails(
    catalog,
    bad(38, (f) => [f[0], version(3).uid, ...f.slice(2)]),
    23,
    `Line 38: the block row belongs to version '${version(3).uid}', but the dump is of version ${other}.`,
  );
  await importFails(
    catalog,
    bad(4, (f) => [f[0], f[1], "0", ...f.slice(3)]),
    23,
    "Line 4: block id 0 appears more than once.",
  );
  await importFails(
    catalog,
    bad(4, (f) => [f[0], f[1], "36", ...f.slice(3)]),
    23,
    "Line 4: block id 36 is outside the version's 36 blocks.",
  );
  assertEquals(await catalog.listing(), listing, "nothing was imported");

  await catalog.importDump(await writeText(`${fx.dir}/renamed.csv`, renamed.join("\r\n")));
  assert((await catalog.listing()).includes(other), "the unchanged dump under a new uid imports");
});

async function writeText(path: string, text: string): Promise<string> {
  await Deno.writeTextFile(path, text);
  return path;
}

// ---- migrate-catalog on other files ----

/** Turns the copy's catalog into one of the oldest alembic revision: no snapshot names, tags, expire or enc_*. */
function downgrade(path: string): void {
  const db = new DatabaseSync(path);
  db.exec("DROP TABLE tags");
  for (const column of ["snapshot_name", "expire"]) db.exec(`ALTER TABLE versions DROP COLUMN ${column}`);
  for (const column of ["enc_version", "enc_envkey", "enc_nonce"]) db.exec(`ALTER TABLE blocks DROP COLUMN ${column}`);
  db.exec("DELETE FROM alembic_version");
  db.close();
}

fixtureTest("migrate-catalog reads an old-revision backy2 catalog, defaulting the missing columns", async (fx) => {
  downgrade(`${fx.dir}/backy.sqlite`);
  const catalog = await fx.migrated("deno");
  const ls = await catalog.run(["-ms", "ls", "-f", "uid,snapshot_name,tags,expire,protected"]);
  const expected = manifest().versions.toSorted((a, b) => a.seq - b.seq).map((v) =>
    `${v.uid}||||${v.seq === 1 ? 1 : 0}`
  );
  const lines = ls.stdout.trimEnd().split("\n").sort();
  assertEquals(lines, expected.sort());
  for (const seq of [2, 3, 4, 5, 6]) {
    assertEquals(await catalog.restoreSha(version(seq).uid, `old-v${seq}.img`), version(seq).restore_sha256);
  }
});

fixtureTest("migrate-catalog refuses what it cannot read as a catalog, naming the problem", async (fx) => {
  const catalog = await fx.migrated("deno");
  await Deno.writeTextFile(`${fx.dir}/text.sqlite`, "not a database at all, just some text that is long enough");
  const cases: [string, string][] = [
    [
      `sqlite:///${fx.dir}/missing.sqlite`,
      `sqlite:///${fx.dir}/missing.sqlite: no such file ${fx.dir}/missing.sqlite.`,
    ],
    [`mysql://host/db`, "mysql://host/db is not an SQLite catalog URL (expected sqlite:///PATH)."],
  ];
  for (const [engine, message] of cases) {
    const args = ["migrate-catalog", engine];
    expectRun(await catalog.run(args), { code: 100, stderr: error(message) + error("Backy failed.\n") }, engine);
  }
  const unreachable = "postgresql://u:secret@127.0.0.1:1/db";
  expectRun(await catalog.run(["migrate-catalog", unreachable]), {
    code: 1,
    stderr: error(
      "PostgreSQL catalog postgresql://u:***@127.0.0.1:1/db: cannot connect (connect ECONNREFUSED 127.0.0.1:1).",
    ),
  });
  const text = await catalog.run(["migrate-catalog", `sqlite:///${fx.dir}/text.sqlite`]);
  assertEquals(text.code, 100);
  assert(text.stderr.includes("cannot be read as a backy2 catalog"), text.stderr);
  // Pointing this tool's catalog at a backy2 file is refused with the hint to migrate it, leaving the file as is.
  const before = await sha256File(`${fx.dir}/backy.sqlite`);
  const direct = await runBacky(["-c", `${fx.dir}/backy.cfg`, "ls"]);
  assertEquals(direct.code, 1);
  assert(direct.stderr.includes(`backy2 migrate-catalog sqlite:///${fx.dir}/backy.sqlite`), direct.stderr);
  assertEquals(await sha256File(`${fx.dir}/backy.sqlite`), before);
});
