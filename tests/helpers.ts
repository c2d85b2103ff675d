/**
 * Shared helpers for the CLI tests in `tests/`: they run backy2 the way a user does (a separate process
 * started through `scripts/backy2`) against a throw-away configuration, catalog and data directory.
 *
 * Provides: {@link runBacky} / {@link Sandbox} (spawn and capture code, stdout and stderr; every run is
 * checked for leaked JavaScript stack traces), config writing, a seeded PRNG and image writers, file
 * hashing and comparison, {@link stripProgress} for the timing-dependent progress lines, the exact log-line
 * texts of the reference, and the assertions of `node:assert/strict` under the names the tests use.
 */
import { deepStrictEqual, fail, match as assertMatch, ok as assert } from "node:assert/strict";
import { createHash } from "node:crypto";
import { DatabaseSync } from "node:sqlite";
import { openSqliteCatalog } from "../src/catalog/sqlite/catalog.ts";
import { openCatalog } from "../src/catalog/open_catalog.ts";
import type { Catalog } from "../src/catalog/catalog.ts";
import { freshDatabase } from "../src/catalog/postgres/test_server.ts";
import { LockManager } from "../src/lock/lock_manager.ts";
import { fileLocks } from "../src/lock/locks.ts";
import { LeaseBackend } from "../src/lock/lease_locks.ts";
import { parsePgUrl } from "../src/catalog/postgres/url.ts";

/** The repository root (no trailing slash). */
export const ROOT = decodeURIComponent(new URL("..", import.meta.url).pathname).replace(/\/$/, "");
/** The program as users start it. */
export const BACKY2 = `${ROOT}/scripts/backy2`;

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
  /** Set when the process was ended by a signal. */
  signal: Deno.Signal | null;
}

export interface RunOptions {
  /** Bytes or text fed to stdin (stdin is empty otherwise). */
  stdin?: string | Uint8Array;
  cwd?: string;
  /** Extra environment variables. */
  env?: Record<string, string>;
}

const decoder = new TextDecoder();
const encoder = new TextEncoder();

/**
 * Environment of every spawned backy2: UTC keeps the automatic tags independent of the machine's zone
 * (the reference compares UTC version dates with the local date).
 */
function childEnv(extra: Record<string, string> = {}): Record<string, string> {
  return { TZ: "UTC", NO_COLOR: "1", ...extra };
}

/** Starts backy2 with `args` and returns the running child (stdout and stderr piped, stdin closed). */
export function spawnBacky(args: string[], options: RunOptions = {}): Deno.ChildProcess {
  return new Deno.Command(BACKY2, {
    args,
    cwd: options.cwd ?? ROOT,
    env: childEnv(options.env),
    stdin: options.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

/** Runs backy2 to completion. Throws if its output contains a JavaScript stack trace. */
export async function runBacky(args: string[], options: RunOptions = {}): Promise<RunResult> {
  const child = spawnBacky(args, options);
  if (options.stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(typeof options.stdin === "string" ? encoder.encode(options.stdin) : options.stdin);
    await writer.close();
  }
  return collect(await child.output(), args);
}

/** Turns a finished child's output into a {@link RunResult}, checking it for stack traces. */
export function collect(output: Deno.CommandOutput, args: string[]): RunResult {
  const result: RunResult = {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
    signal: output.signal,
  };
  assertNoStackTrace(result, args);
  return result;
}

const STACK_TRACE = /^ {4}at |^error: Uncaught|^Stack trace:/m;

/** No output of backy2 may show a JavaScript stack trace or an uncaught-error report. */
export function assertNoStackTrace(result: RunResult, args: string[] = []): void {
  for (const [stream, text] of [["stdout", result.stdout], ["stderr", result.stderr]]) {
    if (STACK_TRACE.test(text)) {
      fail(`backy2 ${args.join(" ")} printed a stack trace on ${stream}:\n${describeRun(result)}`);
    }
  }
}

/** The progress lines whose numbers depend on timing (queue fill, MB/s, ETA). */
const PROGRESS_LINE = /^ {4}INFO: \[backy2\.logging\] (Backing up|Restore phase|Scrubbing) .* Read Queue .*$\n?/gm;

/** Removes the timing-dependent progress lines from console output. */
export function stripProgress(text: string): string {
  return text.replace(PROGRESS_LINE, "");
}

// ---- The reference's console lines ----

/** An INFO console line. */
export function info(message: string): string {
  return `    INFO: [backy2.logging] ${message}\n`;
}

/** An ERROR console line. */
export function error(message: string): string {
  return `   ERROR: [backy2.logging] ${message}\n`;
}

/** `Backy complete.` as printed after a successful command (the message ends with a newline). */
export const COMPLETE = info("Backy complete.\n");
/** `Backy failed.` as printed after a failed command. */
export const FAILED = error("Backy failed.\n");

// ---- Sandboxes ----

export interface ConfigOptions {
  blockSize?: number;
  /** `deduplication` in [DEFAULTS]; omitted when undefined (the default is on). */
  deduplication?: boolean;
  simultaneousWrites?: number;
  simultaneousReads?: number;
  /** Raw extra lines for [DEFAULTS]. */
  extraDefaults?: string[];
  /** Create the sandbox's catalog as `initdb` does (the default); false leaves it without one. */
  catalog?: boolean;
}

/**
 * Which catalog sandboxes get: SQLite (a file in the sandbox), or with BACKY2_TEST_CATALOG=postgresql a new
 * database on the PostgreSQL test server (BACKY2_PG_URL, see scripts/pg-cluster) for each sandbox.
 */
export function testCatalogKind(): "sqlite" | "postgresql" {
  return Deno.env.get("BACKY2_TEST_CATALOG") === "postgresql" ? "postgresql" : "sqlite";
}

/** The sandbox's database on the PostgreSQL test server, by sandbox directory. */
const sandboxDatabases = new Map<string, { url: string; drop(): Promise<void> }>();

/** The engine URL of the sandbox in `dir`: its SQLite file, or its PostgreSQL database. */
export function engineOf(dir: string): string {
  return sandboxDatabases.get(dir)?.url ?? `sqlite:///${dir}/backy.sqlite`;
}

/** Writes a config for a sandbox in `dir`: logfile, locks, catalog and file blobs all inside `dir`. */
export async function writeConfig(dir: string, options: ConfigOptions = {}, name = "backy.cfg"): Promise<string> {
  const lines = [
    "# backy2 CLI test configuration",
    "[DEFAULTS]",
    `logfile: ${dir}/backy.log`,
    `block_size: ${options.blockSize ?? 4096}`,
    "hash_function: sha512",
    `lock_dir: ${dir}`,
    "process_name: backy2",
    "encryption_version: 0",
    ...(options.deduplication === undefined ? [] : [`deduplication: ${options.deduplication ? 1 : 0}`]),
    ...(options.extraDefaults ?? []),
    "",
    "[MetaBackend]",
    "type: backy2.meta_backends.sql",
    `engine: ${engineOf(dir)}`,
    "",
    "[DataBackend]",
    "type: backy2.data_backends.file",
    `path: ${dir}/data`,
    `simultaneous_writes: ${options.simultaneousWrites ?? 2}`,
    `simultaneous_reads: ${options.simultaneousReads ?? 2}`,
    "",
    "[io_file]",
    `simultaneous_reads: ${options.simultaneousReads ?? 2}`,
    "",
  ];
  const path = `${dir}/${name}`;
  await Deno.writeTextFile(path, lines.join("\n"));
  return path;
}

/** Creates an empty catalog at `path`, as `backy2 initdb` does (only initdb creates one for a config file). */
export async function createCatalog(path: string): Promise<void> {
  await openSqliteCatalog(path, { engine: `sqlite:///${path}`, create: true }).close();
}

/** Opens the catalog of a sandbox (white-box tests), whichever kind it is. */
export function openSandboxCatalog(sb: Sandbox, create = false): Promise<Catalog> {
  const engine = engineOf(sb.dir);
  const sqlitePath = engine.startsWith("sqlite:") ? sb.path("backy.sqlite") : null;
  return openCatalog({ engine, sqlitePath }, create);
}

/** The holder this test process is in the leases it takes (a PostgreSQL catalog's locks). */
export const TEST_HOLDER = { host: "test-host", pid: Deno.pid, command: "test" };

/**
 * Locks as backy2 takes them for the sandbox's catalog, for tests that hold a lock themselves: the flock files in
 * the sandbox (SQLite), or leases in the sandbox's PostgreSQL database held as {@link TEST_HOLDER}.
 */
export function sandboxLocks(sb: Sandbox): LockManager {
  const engine = engineOf(sb.dir);
  if (engine.startsWith("sqlite:")) return fileLocks(sb.dir);
  return new LockManager(new LeaseBackend(parsePgUrl(engine), TEST_HOLDER, 30, () => {}));
}

const LEASE_HOLDER = String.raw`.+ \(pid \d+\) on host \S+ since \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC`;

/**
 * The ERROR line of a lock refusal, as a pattern: flock files name no holder; with a PostgreSQL catalog the
 * lease names it (`Version X is locked by HOLDER.`, or `MESSAGE (held by HOLDER).` for the others).
 */
export function lockRefusal(message: string): string {
  if (testCatalogKind() === "sqlite") return escapeRegExp(error(`'${message}'`));
  const bare = message.replace(/\.$/, "");
  const holder = /^Version \S+ is locked$/.test(bare) ? ` by ${LEASE_HOLDER}` : ` \\(held by ${LEASE_HOLDER}\\)`;
  return escapeRegExp(error(`'${bare}`).slice(0, -1)) + holder + escapeRegExp(`.'\n`);
}

/** One row of `backy2 -m ls` (all values as printed). */
export type VersionRow = Record<
  "date" | "name" | "snapshot_name" | "size" | "size_bytes" | "uid" | "valid" | "protected" | "tags" | "expire",
  string
>;

/** A temporary directory with its own config, catalog and data directory. */
export class Sandbox {
  private constructor(readonly dir: string, readonly config: string, readonly blockSize: number) {}

  static async create(options: ConfigOptions = {}): Promise<Sandbox> {
    const dir = await Deno.realPath(await Deno.makeTempDir({ prefix: "backy2-cli-test-" }));
    if (testCatalogKind() === "postgresql") sandboxDatabases.set(dir, await freshDatabase());
    const config = await writeConfig(dir, options);
    const sandbox = new Sandbox(dir, config, options.blockSize ?? 4096);
    if (options.catalog !== false) await (await openSandboxCatalog(sandbox, true)).close();
    return sandbox;
  }

  /** An absolute path inside the sandbox. */
  path(name: string): string {
    return `${this.dir}/${name}`;
  }

  /** Replaces the value of `key` (a line `key: value` of the sandbox's config). */
  async setConfig(key: string, value: string): Promise<void> {
    const text = await Deno.readTextFile(this.config);
    const line = new RegExp(`^${escapeRegExp(key)}:.*$`, "m");
    if (!line.test(text)) throw new Error(`the sandbox config has no key ${key}`);
    await Deno.writeTextFile(this.config, text.replace(line, `${key}: ${value}`.trimEnd()));
  }

  /** The `file://` URL of a file inside the sandbox. */
  url(name: string): string {
    return `file://${this.path(name)}`;
  }

  get dataDir(): string {
    return this.path("data");
  }

  /** Runs `backy2 -c CONFIG ARGS`. */
  run(args: string[], options: RunOptions = {}): Promise<RunResult> {
    return runBacky(["-c", this.config, ...args], options);
  }

  /** Starts `backy2 -c CONFIG ARGS` without waiting. */
  spawn(args: string[], options: RunOptions = {}): Deno.ChildProcess {
    return spawnBacky(["-c", this.config, ...args], options);
  }

  /** The console line backy2 logs first: `$ backy2 -c CONFIG ARGS`. */
  commandLine(args: string[]): string {
    return info(`$ backy2 -c ${this.config} ${args.join(" ")}`);
  }

  /** Runs a backup with `-m` and returns the new version uid (requires exit 0 and the uid printed twice). */
  async backup(args: string[], options: RunOptions = {}): Promise<string> {
    const result = await this.run(["-m", "backup", ...args], options);
    expectRun(result, { code: 0, stderr: "" });
    const lines = result.stdout.split("\n");
    assert(
      lines.length === 3 && lines[0] === lines[1] && lines[2] === "" && UUID1.test(lines[0]),
      `backup -m must print the version uid twice:\n${describeRun(result)}`,
    );
    return lines[0];
  }

  /** Restores `uid` to `target` (a sandbox file name) and requires exit 0 with no errors. */
  async restore(uid: string, target: string, flags: string[] = []): Promise<void> {
    const result = await this.run(["restore", ...flags, uid, this.url(target)]);
    expectRun(result, { code: 0, stderr: "" });
  }

  /** All versions as `backy2 -m ls` prints them. */
  async versions(): Promise<VersionRow[]> {
    const result = await this.run(["-m", "ls"]);
    expectRun(result, { code: 0, stderr: "" });
    return parseMachineRows(result.stdout) as VersionRow[];
  }

  /** The version with this uid (throws if `ls` does not list it). */
  async version(uid: string): Promise<VersionRow> {
    const row = (await this.versions()).find((v) => v.uid === uid);
    if (!row) throw new Error(`version ${uid} is not listed by ls`);
    return row;
  }

  /** Paths of all blob files in the data directory (`*.blob`, not leftovers such as `*.tmp`). */
  async blobs(): Promise<string[]> {
    const found: string[] = [];
    const walk = async (dir: string) => {
      for await (const entry of Deno.readDir(dir)) {
        const path = `${dir}/${entry.name}`;
        if (entry.isDirectory) await walk(path);
        else if (entry.isFile && entry.name.endsWith(".blob")) found.push(path);
      }
    };
    try {
      await walk(this.dataDir);
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    }
    return found.sort();
  }

  async blobCount(): Promise<number> {
    return (await this.blobs()).length;
  }

  async remove(): Promise<void> {
    await Deno.remove(this.dir, { recursive: true });
    await probeCatalogs.get(this.dir)?.then((catalog) => catalog.close());
    probeCatalogs.delete(this.dir);
    await sandboxDatabases.get(this.dir)?.drop();
    sandboxDatabases.delete(this.dir);
  }
}

/** The catalogs the white-box probes below keep open for sandboxes on PostgreSQL, closed by `remove()`. */
const probeCatalogs = new Map<string, Promise<Catalog>>();

function probeCatalog(sb: Sandbox): Promise<Catalog> {
  let catalog = probeCatalogs.get(sb.dir);
  if (!catalog) probeCatalogs.set(sb.dir, catalog = openSandboxCatalog(sb));
  return catalog;
}

/**
 * Blocks the unfinished backup has recorded in its draft block map (a white-box look into the catalog: from
 * the outside, a blob file on disk does not say whether the catalog counts it yet).
 */
export async function recordedBlocks(sb: Sandbox): Promise<number> {
  if (testCatalogKind() === "sqlite") return sqliteCount(sb, recordedSqliteBlocks);
  const catalog = await probeCatalog(sb);
  let recorded = 0;
  for (const version of await catalog.listVersions()) {
    if (version.inProgress) recorded += (await catalog.blockMap(version.uid)).filter((id) => id !== 0).length;
  }
  return recorded;
}

/**
 * Blob references the catalog has recorded (on PostgreSQL: those a version or a running backup uses): none
 * before a backup's first durable batch is checkpointed.
 */
export async function recordedBlobs(sb: Sandbox): Promise<number> {
  if (testCatalogKind() === "sqlite") {
    return sqliteCount(
      sb,
      (db) => (db.prepare("SELECT count(*) AS n FROM blobs WHERE uid IS NOT NULL").get() as { n: number }).n,
    );
  }
  return (await (await probeCatalog(sb)).usedBlobUids()).size;
}

function recordedSqliteBlocks(db: DatabaseSync): number {
  const rows = db.prepare("SELECT draft FROM versions WHERE draft IS NOT NULL").all() as { draft: Uint8Array }[];
  return rows.reduce((sum, row) => {
    const ids = new Uint32Array(row.draft.slice().buffer);
    return sum + ids.filter((id) => id !== 0).length;
  }, 0);
}

/** A count read from the sandbox's SQLite file while a backup may be writing it; 0 when it cannot be read. */
function sqliteCount(sb: Sandbox, count: (db: DatabaseSync) => number): number {
  let db: DatabaseSync | null = null;
  try {
    db = new DatabaseSync(sb.path("backy.sqlite"), { readOnly: true });
    return count(db);
  } catch {
    return 0;
  } finally {
    db?.close();
  }
}

/** Runs `fn` in a fresh sandbox that is removed afterwards. */
export async function withSandbox(
  options: ConfigOptions,
  fn: (sandbox: Sandbox) => Promise<void>,
): Promise<void> {
  const sandbox = await Sandbox.create(options);
  try {
    await fn(sandbox);
  } finally {
    await sandbox.remove();
  }
}

/** Parses `-m` output with its header line into one record per row. */
export function parseMachineRows(stdout: string): Record<string, string>[] {
  const lines = stdout.split("\n");
  assertEquals(lines.pop(), "", "machine output ends with a newline");
  const header = lines.shift()!.split("|");
  return lines.map((line) => {
    const cells = line.split("|");
    assertEquals(cells.length, header.length, `cells of ${JSON.stringify(line)}`);
    return Object.fromEntries(header.map((name, i) => [name, cells[i]]));
  });
}

/** A version uid as backy2 makes them (UUID version 1). */
export const UUID1 = /^[0-9a-f]{8}-[0-9a-f]{4}-1[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

// ---- Data ----

/** A small seeded PRNG (xoshiro128**), so that generated data and failures are reproducible. */
export class Rng {
  private s: Uint32Array;

  constructor(readonly seed: number) {
    // splitmix32 expands the seed into the four state words.
    let x = seed >>> 0;
    const next = () => {
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.s = new Uint32Array([next(), next(), next(), next()]);
  }

  /** A uniformly distributed 32-bit unsigned integer. */
  u32(): number {
    const s = this.s;
    const result = Math.imul(rotl(Math.imul(s[1], 5) >>> 0, 7), 9) >>> 0;
    const t = (s[1] << 9) >>> 0;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return result;
  }

  /** An integer in [min, max] (inclusive). */
  int(min: number, max: number): number {
    return min + Math.floor((this.u32() / 2 ** 32) * (max - min + 1));
  }

  /** True with probability `p`. */
  chance(p: number): boolean {
    return this.u32() / 2 ** 32 < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(0, items.length - 1)];
  }

  /** Fills `into` with random bytes and returns it. */
  fill(into: Uint8Array): Uint8Array {
    let i = 0;
    for (; i + 4 <= into.length; i += 4) {
      const v = this.u32();
      into[i] = v;
      into[i + 1] = v >>> 8;
      into[i + 2] = v >>> 16;
      into[i + 3] = v >>> 24;
    }
    for (; i < into.length; i++) into[i] = this.u32();
    return into;
  }

  bytes(n: number): Uint8Array {
    return this.fill(new Uint8Array(n));
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

/** A seed for tests that want fresh data each run; `BACKY2_TEST_SEED` pins it to reproduce a failure. */
export function testSeed(): number {
  const pinned = Deno.env.get("BACKY2_TEST_SEED");
  if (pinned) return Number(pinned) >>> 0;
  return crypto.getRandomValues(new Uint32Array(1))[0];
}

/** What each block of an image holds. */
export type BlockKind = "random" | "zero" | { copyOf: number };

/**
 * Builds an image of whole blocks (the last one cut to `size`, if given): random data, zeros, or a copy of an
 * earlier block.
 */
export function buildImage(rng: Rng, blockSize: number, kinds: BlockKind[], size?: number): Uint8Array {
  const image = new Uint8Array(kinds.length * blockSize);
  kinds.forEach((kind, id) => {
    const block = image.subarray(id * blockSize, (id + 1) * blockSize);
    if (kind === "random") rng.fill(block);
    else if (typeof kind === "object") {
      block.set(image.subarray(kind.copyOf * blockSize, (kind.copyOf + 1) * blockSize));
    }
  });
  return size === undefined ? image : image.slice(0, size);
}

/**
 * Writes `size` bytes that never repeat at a 4 KiB granularity, fast: one random MiB, written again and
 * again with a running counter stamped at the start of every 4 KiB.
 */
export async function writeUniqueImage(path: string, size: number): Promise<void> {
  const chunk = new Uint8Array(1 << 20);
  for (let i = 0; i < chunk.length; i += 65536) crypto.getRandomValues(chunk.subarray(i, i + 65536));
  const view = new DataView(chunk.buffer);
  const file = await Deno.open(path, { write: true, create: true, truncate: true });
  try {
    let counter = 1;
    for (let offset = 0; offset < size; offset += chunk.length) {
      for (let i = 0; i < chunk.length; i += 4096) view.setFloat64(i, counter++, true);
      const part = chunk.subarray(0, Math.min(chunk.length, size - offset));
      for (let done = 0; done < part.length;) done += await file.write(part.subarray(done));
    }
  } finally {
    file.close();
  }
}

/** sha256 hex digest of a file, read in 1 MiB pieces. */
export async function sha256File(path: string): Promise<string> {
  const hash = createHash("sha256");
  const file = await Deno.open(path, { read: true });
  try {
    const buffer = new Uint8Array(1 << 20);
    for (;;) {
      const n = await file.read(buffer);
      if (n === null) break;
      hash.update(buffer.subarray(0, n));
    }
  } finally {
    file.close();
  }
  return hash.digest("hex");
}

/** Compares two files byte by byte; returns the offset of the first difference, or -1 when they are equal. */
export async function firstDifference(a: string, b: string): Promise<number> {
  const [fa, fb] = await Promise.all([Deno.open(a), Deno.open(b)]);
  try {
    const [sa, sb] = [(await fa.stat()).size, (await fb.stat()).size];
    const ba = new Uint8Array(1 << 20);
    const bb = new Uint8Array(1 << 20);
    for (let offset = 0; offset < Math.min(sa, sb);) {
      const n = Math.min(ba.length, Math.min(sa, sb) - offset);
      await readExactly(fa, ba.subarray(0, n));
      await readExactly(fb, bb.subarray(0, n));
      for (let i = 0; i < n; i++) if (ba[i] !== bb[i]) return offset + i;
      offset += n;
    }
    return sa === sb ? -1 : Math.min(sa, sb);
  } finally {
    fa.close();
    fb.close();
  }
}

async function readExactly(file: Deno.FsFile, into: Uint8Array): Promise<void> {
  for (let done = 0; done < into.length;) {
    const n = await file.read(into.subarray(done));
    if (n === null) throw new Error("unexpected end of file");
    done += n;
  }
}

/** Requires two files to have identical bytes. */
export async function assertSameFile(actual: string, expected: string, message = ""): Promise<void> {
  const at = await firstDifference(actual, expected);
  if (at >= 0) {
    const sizes = `${(await Deno.stat(actual)).size} vs ${(await Deno.stat(expected)).size} bytes`;
    fail(`${message ? message + ": " : ""}${actual} differs from ${expected} at byte ${at} (${sizes})`);
  }
}

/** Requires a file to hold exactly `bytes`. */
export async function assertFileBytes(path: string, bytes: Uint8Array, message = ""): Promise<void> {
  const actual = await Deno.readFile(path);
  if (actual.length !== bytes.length) {
    fail(`${message ? message + ": " : ""}${path} has ${actual.length} bytes, expected ${bytes.length}`);
  }
  const at = actual.findIndex((b, i) => b !== bytes[i]);
  if (at >= 0) fail(`${message ? message + ": " : ""}${path} differs at byte ${at}`);
}

// ---- Hints ----

export interface HintEntry {
  offset: number;
  length: number;
  /** rbd writes `"true"`/`"false"`; other JSON values are accepted too. */
  exists: string | boolean | number | null;
}

/** Writes a hints file as `rbd diff --format=json` does: one JSON line. */
export async function writeHints(path: string, hints: HintEntry[]): Promise<void> {
  await Deno.writeTextFile(path, JSON.stringify(hints) + "\n");
}

// ---- Assertions ----

// `ok` and `match` themselves, so that a failing `assert(...)` without a message shows the caller's expression.
export { assert, assertMatch };

/** Deep strict equality (`node:assert/strict`): prototypes and `undefined` fields count, key order does not. */
export function assertEquals<T>(actual: T, expected: T, message?: string): void {
  deepStrictEqual(actual, expected, message);
}

/** A run as text, for failure messages. */
export function describeRun(result: RunResult): string {
  return `exit code ${result.code}${result.signal ? ` (signal ${result.signal})` : ""}\n` +
    `--- stdout ---\n${result.stdout}--- stderr ---\n${result.stderr}--- end ---`;
}

export interface Expected {
  code: number;
  /** Exact text after {@link stripProgress}, or a pattern. Not checked when undefined. */
  stdout?: string | RegExp;
  stderr?: string | RegExp;
}

/** Requires a run's exit code and (progress-stripped) output; the failure message shows the whole run. */
export function expectRun(result: RunResult, expected: Expected, message = ""): void {
  const problems: string[] = [];
  if (result.code !== expected.code) problems.push(`exit code ${result.code}, expected ${expected.code}`);
  for (const stream of ["stdout", "stderr"] as const) {
    const want = expected[stream];
    if (want === undefined) continue;
    const got = stripProgress(result[stream]);
    if (typeof want === "string" ? got !== want : !want.test(got)) {
      problems.push(`${stream} differs; expected ${typeof want === "string" ? JSON.stringify(want) : want}`);
    }
  }
  if (problems.length) {
    fail(`${message ? message + ": " : ""}${problems.join("; ")}\n${describeRun(result)}`);
  }
}

/** `text` as a literal inside a regular expression. */
export function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/**
 * Runs `backy2 -c CONFIG ARGS` in `sandbox` and kills it after `ms` milliseconds, for runs that could hang
 * (a FIFO where a file should be): a hang then fails the test as `signal SIGKILL` instead of stalling it.
 */
export async function runWithin(sandbox: Sandbox, args: string[], ms = 30_000): Promise<RunResult> {
  const child = sandbox.spawn(args);
  const timer = setTimeout(() => child.kill("SIGKILL"), ms);
  try {
    return collect(await child.output(), args);
  } finally {
    clearTimeout(timer);
  }
}
