/** Tests of configuration loading: sources and precedence, embedded default, validation messages, schedulers. */

import assert from "node:assert/strict";
import { join } from "node:path";
import { BackyError } from "../util/errors.ts";
import { type Config, defaultDataDir, loadConfig, type LoadConfigOptions, parseTimedelta } from "./config.ts";

type Sections = Record<string, Record<string, string | null>>;

/** A complete configuration for `-c`; null in an override deletes the key. */
const MINIMAL: Sections = {
  DEFAULTS: {
    logfile: "/var/log/backy.log",
    block_size: "4194304",
    lock_dir: "/run",
    encryption_version: "0",
  },
  MetaBackend: { type: "backy2.meta_backends.sql", engine: "sqlite:////var/lib/backy2/backy.sqlite" },
  DataBackend: { type: "backy2.data_backends.file", path: "/var/lib/backy2/data", simultaneous_writes: "5" },
};

const KEY = "00112233445566778899aabbccddeeff00112233445566778899AABBCCDDEEFF";

function iniText(sections: Sections): string {
  return Object.entries(sections).map(([name, options]) => {
    const lines = Object.entries(options).filter(([, value]) => value !== null).map(([k, v]) => `${k} = ${v}`);
    return `[${name}]\n${lines.join("\n")}\n`;
  }).join("\n");
}

function withOverrides(overrides: Sections): Sections {
  const result: Sections = structuredClone(MINIMAL);
  for (const [name, options] of Object.entries(overrides)) result[name] = { ...result[name], ...options };
  return result;
}

async function tempDir(): Promise<string> {
  return await Deno.makeTempDir({ prefix: "backy-config-test-" });
}

/** Writes a config built from MINIMAL plus `overrides` and loads it with `-c`. */
async function loadWith(overrides: Sections = {}, extra = ""): Promise<{ config: Config; file: string }> {
  const dir = await tempDir();
  const file = join(dir, "backy.cfg");
  await Deno.writeTextFile(file, iniText(withOverrides(overrides)) + extra);
  return { config: loadConfig({ configFile: file, cwd: dir, home: "/home/u", env: {} }), file };
}

async function assertLoadError(overrides: Sections, problem: (file: string) => string): Promise<void> {
  const dir = await tempDir();
  const file = join(dir, "backy.cfg");
  await Deno.writeTextFile(file, iniText(withOverrides(overrides)));
  assertBackyError(() => loadConfig({ configFile: file, cwd: dir, home: "/home/u", env: {} }), problem(file), 1);
}

function assertBackyError(run: () => unknown, message: string, exitCode: number): void {
  assert.throws(run, (error: unknown) => {
    assert.ok(error instanceof BackyError, `not a BackyError: ${error}`);
    assert.equal(error.message, message);
    assert.equal(error.exitCode, exitCode);
    assert.equal(error.bare, exitCode === 1);
    return true;
  });
}

/** Options for the search path with no system files and an empty home and working directory. */
async function isolated(extra: Partial<LoadConfigOptions> = {}): Promise<LoadConfigOptions> {
  const dir = await tempDir();
  await Deno.mkdir(join(dir, "home"));
  await Deno.mkdir(join(dir, "cwd"));
  return { env: {}, uid: 1000, home: join(dir, "home"), cwd: join(dir, "cwd"), searchPath: [], ...extra };
}

Deno.test("defaultDataDir: root, XDG_DATA_HOME, home fallback", () => {
  assert.equal(defaultDataDir({ XDG_DATA_HOME: "/x" }, 0, "/root"), "/var/lib/backy2");
  assert.equal(defaultDataDir({ XDG_DATA_HOME: "/x/data" }, 1000, "/home/u"), "/x/data/backy2");
  assert.equal(defaultDataDir({}, 1000, "/home/u"), "/home/u/.local/share/backy2");
  assert.equal(defaultDataDir({ XDG_DATA_HOME: "relative" }, 1000, "/home/u"), "/home/u/.local/share/backy2");
  assert.equal(defaultDataDir({ XDG_DATA_HOME: "" }, 1000, "/home/u"), "/home/u/.local/share/backy2");
});

Deno.test("loadConfig: embedded default for a user", async () => {
  const options = await isolated();
  const config = loadConfig(options);
  const data = join(options.home!, ".local/share/backy2");
  assert.deepEqual(config.files, []);
  assert.equal(config.embeddedDefault, true);
  assert.deepEqual(config.defaults, {
    logfile: `${data}/backy.log`,
    blockSize: 4194304,
    hashFunction: "sha512",
    lockDir: data,
    processName: "backy2",
    disallowRmWhenYoungerThanDays: 0,
    deduplication: true,
    encryptionVersion: 0,
    encryptionKey: null,
    cachedir: "/tmp",
    metricsDir: "",
  });
  assert.deepEqual(config.meta, {
    type: "backy2.meta_backends.sql",
    engine: `sqlite:///${data}/backy.sqlite`,
    sqlitePath: `${data}/backy.sqlite`,
    leaseSeconds: 30,
  });
  const { section, ...dataBackend } = config.data;
  assert.deepEqual(dataBackend, {
    type: "file",
    path: `${data}/data`,
    simultaneousWrites: 5,
    simultaneousReads: 5,
    bandwidthRead: 0,
    bandwidthWrite: 0,
    cleanupGraceSeconds: 0,
    s3: null,
    compression: "zstd",
    compressionLevel: 3,
  });
  assert.equal(section.name, "DataBackend");
  assert.deepEqual(config.ioFile, { simultaneousReads: 5, simultaneousWrites: 5 });
  assert.deepEqual(config.ioNull, { simultaneousReads: 5, simultaneousWrites: 5 });
});

Deno.test("loadConfig: embedded default for root and under XDG_DATA_HOME", async () => {
  const root = loadConfig(await isolated({ uid: 0 }));
  assert.equal(root.meta.engine, "sqlite:////var/lib/backy2/backy.sqlite");
  assert.equal(root.meta.sqlitePath, "/var/lib/backy2/backy.sqlite");
  assert.equal(root.data.path, "/var/lib/backy2/data");
  assert.equal(root.defaults.logfile, "/var/lib/backy2/backy.log");
  assert.equal(root.defaults.lockDir, "/var/lib/backy2");
  const xdg = loadConfig(await isolated({ env: { XDG_DATA_HOME: "/srv/xdg" } }));
  assert.equal(xdg.meta.sqlitePath, "/srv/xdg/backy2/backy.sqlite");
  assert.equal(xdg.data.path, "/srv/xdg/backy2/data");
});

Deno.test("loadConfig: embedded default, missing rbd settings name the built-in defaults", async () => {
  const config = loadConfig(await isolated());
  assertBackyError(
    () => config.ioRbd(),
    "Configuration error in (built-in defaults), section [io_rbd], key ceph_conffile: missing.",
    1,
  );
});

Deno.test("loadConfig: search path order, later files override, conf.d sorted without hidden files", async () => {
  const options = await isolated();
  const etc = join(options.cwd!, "..", "etc");
  await Deno.mkdir(join(etc, "backy", "conf.d"), { recursive: true });
  const files = {
    system: join(etc, "backy.cfg"),
    systemDir: join(etc, "backy", "backy.cfg"),
    confB: join(etc, "backy", "conf.d", "20-b.cfg"),
    confA: join(etc, "backy", "conf.d", "10-a.cfg"),
    hidden: join(etc, "backy", "conf.d", ".hidden.cfg"),
    user: join(options.home!, ".backy.cfg"),
    cwd: join(options.cwd!, "backy.cfg"),
  };
  const write = (path: string, text: string) => Deno.writeTextFile(path, `[DEFAULTS]\n${text}\n`);
  await write(files.system, "process_name = system\nblock_size = 1024\ncachedir = /c1\nlock_dir = /l1");
  await write(files.systemDir, "process_name = systemdir\ncachedir = /c2");
  await write(files.confA, "process_name = conf-a\nlock_dir = /l3");
  await write(files.confB, "process_name = conf-b\nhash_function = sha256");
  await write(files.hidden, "process_name = hidden");
  await write(files.user, "process_name = user\ndisallow_rm_when_younger_than_days = 6");
  await write(files.cwd, "process_name = cwd");
  const searchPath = [files.system, files.systemDir, join(etc, "backy", "conf.d", "*")];
  const config = loadConfig({ ...options, searchPath });
  assert.deepEqual(config.files, [
    files.system,
    files.systemDir,
    files.confA,
    files.confB,
    files.user,
    files.cwd,
  ]);
  assert.equal(config.defaults.processName, "cwd");
  assert.equal(config.defaults.blockSize, 1024);
  assert.equal(config.defaults.cachedir, "/c2");
  assert.equal(config.defaults.lockDir, "/l3");
  assert.equal(config.defaults.hashFunction, "sha256");
  assert.equal(config.defaults.disallowRmWhenYoungerThanDays, 6);
  assert.equal(config.embeddedDefault, true);
});

Deno.test("loadConfig: a file setting the catalog or data backend ends the embedded default", async () => {
  const options = await isolated();
  await Deno.writeTextFile(join(options.home!, ".backy.cfg"), "[MetaBackend]\nengine = sqlite:///~/cat.sqlite\n");
  const config = loadConfig(options);
  assert.equal(config.embeddedDefault, false);
  assert.equal(config.meta.sqlitePath, join(options.home!, "cat.sqlite"));
  assert.deepEqual(config.files, [join(options.home!, ".backy.cfg")]);
});

Deno.test("loadConfig: errors in search-path files name the file that set the value", async () => {
  const options = await isolated();
  const user = join(options.home!, ".backy.cfg");
  const cwd = join(options.cwd!, "backy.cfg");
  await Deno.writeTextFile(user, "[DEFAULTS]\nblock_size = abc\n");
  await Deno.writeTextFile(cwd, "[DEFAULTS]\nprocess_name = mine\n");
  assertBackyError(
    () => loadConfig(options),
    `Configuration error in ${user}, section [DEFAULTS], key block_size: 'abc' is not an integer.`,
    1,
  );
});

Deno.test("loadConfig: missing keys without -c name the last file with that section", async () => {
  const options = await isolated();
  const cwd = join(options.cwd!, "backy.cfg");
  await Deno.writeTextFile(cwd, "[DataBackend]\nbandwidth_read = 0\n[io_rbd]\nceph_conffile = /etc/ceph/ceph.conf\n");
  const config = loadConfig(options);
  assertBackyError(
    () => config.ioRbd(),
    `Configuration error in ${cwd}, section [io_rbd], key new_image_features: missing.`,
    1,
  );
});

Deno.test("loadConfig: -c '' is an error, not the search path", async () => {
  const options = await isolated();
  assertBackyError(
    () => loadConfig({ ...options, configFile: "" }),
    "-c/--configfile is empty: give the path of a config file.",
    1,
  );
});

Deno.test("loadConfig: -c with a missing file", async () => {
  const options = await isolated();
  assertBackyError(
    () => loadConfig({ ...options, configFile: "nope/backy.cfg" }),
    "File not found: nope/backy.cfg",
    1,
  );
});

Deno.test("loadConfig: -c reads only that file, relative to cwd, with code defaults for optional keys", async () => {
  const options = await isolated();
  await Deno.writeTextFile(join(options.cwd!, "backy.cfg"), "[DEFAULTS]\nprocess_name = ignored\n");
  await Deno.writeTextFile(join(options.cwd!, "my.cfg"), iniText(MINIMAL));
  const config = loadConfig({ ...options, configFile: "my.cfg" });
  assert.deepEqual(config.files, ["my.cfg"]);
  assert.equal(config.embeddedDefault, false);
  assert.equal(config.defaults.processName, "backy2");
  assert.equal(config.defaults.hashFunction, "sha512");
  assert.equal(config.defaults.disallowRmWhenYoungerThanDays, 0);
  assert.equal(config.defaults.deduplication, true);
  assert.equal(config.defaults.cachedir, "/tmp");
  assert.equal(config.data.simultaneousReads, 1);
  assert.equal(config.data.bandwidthRead, 0);
  assert.equal(config.data.bandwidthWrite, 0);
  assert.deepEqual(config.ioFile, { simultaneousReads: 1, simultaneousWrites: 1 });
  assert.deepEqual(config.ioNull, { simultaneousReads: 1, simultaneousWrites: 1 });
});

Deno.test("loadConfig: -c without required keys", async () => {
  const missing = (section: string, key: string) => (file: string) =>
    `Configuration error in ${file}, section [${section}], key ${key}: missing.`;
  await assertLoadError({ DEFAULTS: { logfile: null } }, missing("DEFAULTS", "logfile"));
  await assertLoadError({ DEFAULTS: { block_size: null } }, missing("DEFAULTS", "block_size"));
  await assertLoadError({ DEFAULTS: { lock_dir: null } }, missing("DEFAULTS", "lock_dir"));
  await assertLoadError({ DEFAULTS: { encryption_version: null } }, missing("DEFAULTS", "encryption_version"));
  await assertLoadError({ MetaBackend: { type: null } }, missing("MetaBackend", "type"));
  await assertLoadError({ MetaBackend: { engine: null } }, missing("MetaBackend", "engine"));
  await assertLoadError({ DataBackend: { type: null } }, missing("DataBackend", "type"));
  await assertLoadError({ DataBackend: { path: null } }, missing("DataBackend", "path"));
  await assertLoadError({ DataBackend: { simultaneous_writes: null } }, missing("DataBackend", "simultaneous_writes"));
  await assertLoadError(
    { DataBackend: { path: "" } },
    (file) => `Configuration error in ${file}, section [DataBackend], key path: must not be empty.`,
  );
  await assertLoadError(
    { DEFAULTS: { logfile: "" } },
    (file) => `Configuration error in ${file}, section [DEFAULTS], key logfile: must not be empty.`,
  );
});

Deno.test("loadConfig: integer validation", async () => {
  const error = (section: string, key: string, problem: string) => (file: string) =>
    `Configuration error in ${file}, section [${section}], key ${key}: ${problem}`;
  await assertLoadError(
    { DEFAULTS: { block_size: "abc" } },
    error("DEFAULTS", "block_size", "'abc' is not an integer."),
  );
  await assertLoadError(
    { DEFAULTS: { block_size: "4M" } },
    error("DEFAULTS", "block_size", "'4M' is not an integer."),
  );
  await assertLoadError({ DEFAULTS: { block_size: "0" } }, error("DEFAULTS", "block_size", "'0' must be at least 1."));
  await assertLoadError(
    { DEFAULTS: { block_size: "10995116277760" } },
    error("DEFAULTS", "block_size", "'10995116277760' must be at most 1073741824."),
  );
  await assertLoadError(
    { DEFAULTS: { disallow_rm_when_younger_than_days: "-1" } },
    error("DEFAULTS", "disallow_rm_when_younger_than_days", "'-1' must be at least 0."),
  );
  await assertLoadError(
    { DataBackend: { simultaneous_writes: "0" } },
    error("DataBackend", "simultaneous_writes", "'0' must be at least 1."),
  );
  await assertLoadError(
    { DataBackend: { simultaneous_reads: "1.5" } },
    error("DataBackend", "simultaneous_reads", "'1.5' is not an integer."),
  );
  await assertLoadError(
    { DataBackend: { bandwidth_read: "-5" } },
    error("DataBackend", "bandwidth_read", "'-5' must be at least 0."),
  );
  await assertLoadError(
    { io_file: { simultaneous_reads: "0" } },
    error("io_file", "simultaneous_reads", "'0' must be at least 1."),
  );
  await assertLoadError(
    { io_null: { simultaneous_writes: "x" } },
    error("io_null", "simultaneous_writes", "'x' is not an integer."),
  );
});

Deno.test("loadConfig: any positive block size is accepted", async () => {
  const { config } = await loadWith({ DEFAULTS: { block_size: "1000" } });
  assert.equal(config.defaults.blockSize, 1000);
});

Deno.test("loadConfig: booleans", async () => {
  for (const [text, value] of [["YES", true], ["on", true], ["1", true], ["Off", false], ["no", false], ["0", false]]) {
    const { config } = await loadWith({ DEFAULTS: { deduplication: text as string } });
    assert.equal(config.defaults.deduplication, value, `deduplication = ${text}`);
  }
  await assertLoadError(
    { DEFAULTS: { deduplication: "maybe" } },
    (file) =>
      `Configuration error in ${file}, section [DEFAULTS], key deduplication: ` +
      "'maybe' is not a boolean (use 1/yes/true/on or 0/no/false/off).",
  );
});

Deno.test("loadConfig: hash functions", async () => {
  for (
    const [name, nodeName] of [["sha256", "sha256"], ["md5", "md5"], ["blake2b", "blake2b512"], [
      "sha3_256",
      "sha3-256",
    ]]
  ) {
    const { config } = await loadWith({ DEFAULTS: { hash_function: name } });
    assert.equal(config.defaults.hashFunction, nodeName);
  }
  await assertLoadError(
    { DEFAULTS: { hash_function: "sha999" } },
    (file) =>
      `Configuration error in ${file}, section [DEFAULTS], key hash_function: ` +
      "'sha999' is not a supported hash function (e.g. sha512, sha256, blake2b).",
  );
});

Deno.test("loadConfig: encryption version and key", async () => {
  const keyBytes = Uint8Array.from(KEY.match(/../g)!.map((pair) => parseInt(pair, 16)));
  const v1 = await loadWith({ DEFAULTS: { encryption_version: "1", encryption_key: KEY } });
  assert.equal(v1.config.defaults.encryptionVersion, 1);
  assert.deepEqual(v1.config.defaults.encryptionKey, keyBytes);
  const v0WithKey = await loadWith({ DEFAULTS: { encryption_key: KEY } });
  assert.deepEqual(v0WithKey.config.defaults.encryptionKey, keyBytes);
  const v0BadKey = await loadWith({ DEFAULTS: { encryption_key: "abc" } });
  assert.equal(v0BadKey.config.defaults.encryptionKey, null);

  const error = (key: string, problem: string) => (file: string) =>
    `Configuration error in ${file}, section [DEFAULTS], key ${key}: ${problem}`;
  await assertLoadError(
    { DEFAULTS: { encryption_version: "2" } },
    error("encryption_version", "unknown encryption version 2 (supported: 0, 1)."),
  );
  await assertLoadError(
    { DEFAULTS: { encryption_version: "1" } },
    error("encryption_key", "missing. You must provide a 32-byte long encryption-key in your configuration."),
  );
  await assertLoadError(
    { DEFAULTS: { encryption_version: "1", encryption_key: KEY.slice(2) } },
    error(
      "encryption_key",
      "not 64 hexadecimal characters. You must provide a 32-byte long encryption-key in your configuration.",
    ),
  );
  await assertLoadError(
    { DEFAULTS: { encryption_version: "1", encryption_key: "zz" + KEY.slice(2) } },
    error(
      "encryption_key",
      "not 64 hexadecimal characters. You must provide a 32-byte long encryption-key in your configuration.",
    ),
  );
});

Deno.test("loadConfig: meta backend type and engine", async () => {
  const error = (key: string, problem: string) => (file: string) =>
    `Configuration error in ${file}, section [MetaBackend], key ${key}: ${problem}`;
  await assertLoadError(
    { MetaBackend: { type: "backy2.meta_backends.nosql" } },
    error("type", "MetaBackend type backy2.meta_backends.nosql unsupported."),
  );
  await assertLoadError(
    { MetaBackend: { engine: "postgresql://user:pw@db:5432/backy", lease_seconds: "1" } },
    error("lease_seconds", "'1' is not a number of at least 2."),
  );
  await assertLoadError(
    { MetaBackend: { engine: "mysql://db/backy" } },
    error("engine", "mysql catalogs are not supported (expected sqlite:///PATH)."),
  );
  await assertLoadError(
    { MetaBackend: { engine: "/var/lib/backy.sqlite" } },
    error("engine", "'/var/lib/backy.sqlite' is not a database URL (expected sqlite:///PATH)."),
  );
  await assertLoadError(
    { MetaBackend: { engine: "sqlite://" } },
    error("engine", "'sqlite://' names no database file (expected sqlite:///PATH)."),
  );
  await assertLoadError(
    { MetaBackend: { engine: "sqlite:///:memory:" } },
    error("engine", "'sqlite:///:memory:' names no database file (expected sqlite:///PATH)."),
  );
});

Deno.test("loadConfig: sqlite paths, absolute and relative to cwd", async () => {
  const absolute = await loadWith({ MetaBackend: { engine: "sqlite:////srv/b.sqlite" } });
  assert.equal(absolute.config.meta.sqlitePath, "/srv/b.sqlite");
  const relative = await loadWith({ MetaBackend: { engine: "sqlite:///cat/b.sqlite?timeout=5" } });
  assert.equal(relative.config.meta.sqlitePath, join(relative.file, "..", "cat", "b.sqlite"));
  assert.equal(relative.config.meta.engine, "sqlite:///cat/b.sqlite?timeout=5");
});

Deno.test("loadConfig: data backend types", async () => {
  const s3Keys = { bucket_name: "b", aws_access_key_id: "id", aws_secret_access_key: "secret", host: "h:9000" };
  for (const type of ["null", "s3", "minio"] as const) {
    const { config } = await loadWith({
      DataBackend: { type: `backy2.data_backends.${type}`, path: null, simultaneous_writes: null, ...s3Keys },
    });
    assert.equal(config.data.type, type);
    assert.equal(config.data.path, "");
    assert.equal(config.data.simultaneousWrites, 1);
  }
  await assertLoadError(
    { DataBackend: { type: "backy2.data_backends.tape" } },
    (file) =>
      `Configuration error in ${file}, section [DataBackend], key type: DataBackend type backy2.data_backends.tape unsupported.`,
  );
});

Deno.test("loadConfig: data section gives backend-specific keys with their files", async () => {
  const { config, file } = await loadWith({
    DataBackend: {
      type: "backy2.data_backends.s3",
      bucket_name: "b",
      aws_access_key_id: "id",
      aws_secret_access_key: "secret",
    },
  });
  assert.equal(config.data.section.get("bucket_name"), "b");
  assert.equal(config.data.section.file("bucket_name"), file);
  assert.equal(config.data.section.get("region_name"), undefined);
  assert.equal(config.data.section.file("region_name"), undefined);
  assertBackyError(
    () => config.data.section.require("endpoint_url"),
    `Configuration error in ${file}, section [DataBackend], key endpoint_url: missing.`,
    1,
  );
});

Deno.test("loadConfig: ~ expansion and relative paths", async () => {
  const { config, file } = await loadWith({
    DEFAULTS: { logfile: "~/log/backy.log", lock_dir: "", cachedir: "~" },
    MetaBackend: { engine: "sqlite:///~/backy.sqlite" },
    DataBackend: { path: "data" },
  });
  assert.equal(config.defaults.logfile, "/home/u/log/backy.log");
  assert.equal(config.defaults.lockDir, "");
  assert.equal(config.defaults.cachedir, "/home/u");
  assert.equal(config.meta.sqlitePath, "/home/u/backy.sqlite");
  assert.equal(config.data.path, join(file, "..", "data"));
});

Deno.test("loadConfig: interpolation in configuration values", async () => {
  const { config } = await loadWith({
    DEFAULTS: { base: "/srv/backy", logfile: "%(base)s/log", lock_dir: "%(base)s/100%%" },
  });
  assert.equal(config.defaults.logfile, "/srv/backy/log");
  assert.equal(config.defaults.lockDir, "/srv/backy/100%");
});

Deno.test("loadConfig: io_rbd settings", async () => {
  const { config } = await loadWith(
    {},
    "[io_rbd]\nceph_conffile = /etc/ceph/ceph.conf\nnew_image_features =\n" +
      "    RBD_FEATURE_LAYERING\n    RBD_FEATURE_EXCLUSIVE_LOCK\n",
  );
  assert.deepEqual(config.ioRbd(), {
    cephConffile: "/etc/ceph/ceph.conf",
    clusterName: "ceph",
    radosName: "client.admin",
    simultaneousReads: 10,
    simultaneousWrites: 1,
    newImageFeatures: ["RBD_FEATURE_LAYERING", "RBD_FEATURE_EXCLUSIVE_LOCK"],
  });
  const bad = await loadWith({}, "[io_rbd]\nceph_conffile = /c\nnew_image_features = LAYERING\n");
  assertBackyError(
    () => bad.config.ioRbd(),
    `Configuration error in ${bad.file}, section [io_rbd], key new_image_features: ` +
      "'LAYERING' is not an RBD_FEATURE_* name.",
    1,
  );
  const absent = await loadWith();
  assertBackyError(
    () => absent.config.ioRbd(),
    `Configuration error in ${absent.file}, section [io_rbd], key ceph_conffile: missing.`,
    1,
  );
});

Deno.test("loadConfig: parse errors of a file surface as one-line config errors", async () => {
  const dir = await tempDir();
  const file = join(dir, "bad.cfg");
  await Deno.writeTextFile(file, "logfile = /x\n");
  assertBackyError(
    () => loadConfig({ configFile: file, env: {}, home: "/home/u" }),
    `File contains no section headers. file: '${file}', line: 1: 'logfile = /x'`,
    1,
  );
});

Deno.test("parseTimedelta: units and errors", () => {
  assert.equal(parseTimedelta("90s"), 90);
  assert.equal(parseTimedelta("15m"), 900);
  assert.equal(parseTimedelta("1h"), 3600);
  assert.equal(parseTimedelta("30d"), 2592000);
  for (const bad of ["1w", "h", "1.5h", "-1h", "1 h", ""]) {
    assertBackyError(() => parseTimedelta(bad), `Unknown timedelta format: ${bad}`, 100);
  }
});

Deno.test("scheduler: sections, unknown names, bad values", async () => {
  const { config, file } = await loadWith(
    {},
    "[daily]\ninterval = 1d\nkeep = 8\nsla = 6h\n" +
      "[odd]\ninterval = 2w\nkeep = 1\nsla = 1h\n[neg]\ninterval = 1d\nkeep = -1\nsla = 1h\n[part]\ninterval = 1d\n",
  );
  assert.deepEqual(config.scheduler("daily"), { interval: 86400, keep: 8, sla: 21600 });
  assertBackyError(() => config.scheduler("nope"), "No section: 'nope'", 100);
  assertBackyError(() => config.scheduler("DEFAULT"), "No section: 'DEFAULT'", 100);
  assertBackyError(() => config.scheduler("odd"), "Unknown timedelta format: 2w", 100);
  assertBackyError(() => config.scheduler("part"), "No option 'keep' in section: 'part'", 100);
  assertBackyError(
    () => config.scheduler("neg"),
    `Configuration error in ${file}, section [neg], key keep: '-1' is not a non-negative integer.`,
    100,
  );
});

Deno.test("shipped backy.cfg: parses, changes nothing, provides the sample schedulers", async () => {
  const options = await isolated();
  const plain = loadConfig(options);
  await Deno.copyFile(new URL("../../backy.cfg", import.meta.url), join(options.cwd!, "backy.cfg"));
  const withSample = loadConfig(options);
  assert.deepEqual(withSample.files, [join(options.cwd!, "backy.cfg")]);
  assert.equal(withSample.embeddedDefault, true);
  const { section: _a, ...plainData } = plain.data;
  const { section: _b, ...sampleData } = withSample.data;
  assert.deepEqual(
    [withSample.defaults, withSample.meta, sampleData, withSample.ioFile, withSample.ioNull],
    [plain.defaults, plain.meta, plainData, plain.ioFile, plain.ioNull],
  );
  assertBackyError(
    () => withSample.ioRbd(),
    `Configuration error in ${join(options.cwd!, "backy.cfg")}, section [io_rbd], key ceph_conffile: missing.`,
    1,
  );
  const expected: Record<string, [number, number, number]> = {
    hourly: [3600, 25, 3600],
    daily: [86400, 8, 21600],
    weekly: [604800, 5, 43200],
    monthly: [2592000, 3, 259200],
    longterm_hourly: [3600, 49, 7200],
    longterm_daily: [86400, 14, 43200],
    longterm_weekly: [604800, 10, 86400],
    longterm_monthly: [2592000, 6, 604800],
  };
  for (const [name, [interval, keep, sla]] of Object.entries(expected)) {
    assert.deepEqual(withSample.scheduler(name), { interval, keep, sla }, name);
  }
});

Deno.test("metrics_dir is a path (relative to the working directory); empty or unset means no metrics", async () => {
  const { config: fromFile, file } = await loadWith({ DEFAULTS: { metrics_dir: "prom" } });
  assert.equal(fromFile.defaults.metricsDir, join(file, "..", "prom"));
  const { config: unset } = await loadWith({});
  assert.equal(unset.defaults.metricsDir, "");
});

Deno.test("loadConfig: compression and its level", async () => {
  const zstd = await loadWith({ DataBackend: { compression: "ZSTD", compression_level: "19" } });
  assert.deepEqual([zstd.config.data.compression, zstd.config.data.compressionLevel], ["zstd", 19]);
  const none = await loadWith({ DataBackend: { compression: "none" } });
  assert.deepEqual([none.config.data.compression, none.config.data.compressionLevel], ["none", 3]);

  const error = (key: string, problem: string) => (file: string) =>
    `Configuration error in ${file}, section [DataBackend], key ${key}: ${problem}`;
  await assertLoadError(
    { DataBackend: { compression: "lz4" } },
    error("compression", "'lz4' is not a compression (use zstd or none)."),
  );
  await assertLoadError(
    { DataBackend: { compression_level: "0" } },
    error("compression_level", "'0' must be at least 1."),
  );
  await assertLoadError(
    { DataBackend: { compression_level: "20" } },
    error("compression_level", "'20' must be at most 19."),
  );
  await assertLoadError(
    { DataBackend: { compression_level: "fast" } },
    error("compression_level", "'fast' is not an integer."),
  );
});
