/**
 * The multi-host proof, for any shared store: two "hosts" (backy2 processes with their own BACKY2_HOSTNAME,
 * lock_dir and log) share one PostgreSQL catalog (a fresh database on the test server of scripts/pg-cluster)
 * and one store. For 20 rounds they run at once: backups of different images and of the same name, `rm` of a
 * version the other host deduplicates against, fast and full cleanups, scrubs and restores. Afterwards every
 * valid version restores byte-identical, every version scrubs clean, and `cleanup --full` leaves exactly the
 * blobs the catalog uses. A host killed with SIGKILL while it holds a lease blocks the other one no longer
 * than the lease time, and the other host finishes its backup with `backup -c`.
 *
 * {@link multihostTests} registers both tests for one kind of store (tests/multihost_test.ts: a file store on
 * a shared directory; tests/multihost_s3_test.ts: a bucket on the RADOS Gateway). Every loop is bounded in
 * count and time. Without BACKY2_PG_URL these tests fail (they are never skipped).
 */
import {
  assert,
  assertEquals,
  buildImage,
  Rng,
  runBacky,
  type RunResult,
  sha256File,
  spawnBacky,
  testSeed,
} from "./helpers.ts";

import { freshDatabase } from "../src/catalog/postgres/test_server.ts";
import { openPostgresCatalog } from "../src/catalog/postgres/catalog.ts";

const BLOCK = 4096;
/** Blocks of the images "a" and "b", which each round changes a little. */
const BLOCKS = 48;
const ROUNDS = 20;
const LEASE_SECONDS = 3;
/** Versions checked at once at the end (each restored on one host and scrubbed on the other). */
const VERIFIERS = 3;
/** The whole proof must end within this. */
const DEADLINE_MS = 8 * 60_000;

/** The store both hosts share, seen without backy2. */
export interface SharedStore {
  /** The [DataBackend] lines of both hosts' configs. */
  dataBackend: string[];
  /** The uids of the blobs in the store. */
  blobs(): Promise<Set<string>>;
  /** Removes the store (when it lives outside the cluster's directory). */
  dispose(): Promise<void>;
}

/** One kind of shared store and the image sizes that keep its run short but the races real. */
export interface StoreKind {
  /** In the test names: "a file store", say. */
  name: string;
  /** A new, empty store; `dir` is the cluster's shared directory. */
  open(dir: string): Promise<SharedStore>;
  /** Blocks of the image that is new each round: alpha's backups of it must still run when the cleanup comes. */
  sharedBlocks: number;
  /** Blocks of the image whose backup is killed: it must still run when the other host looks at the leases. */
  killedBlocks: number;
}

class Host {
  constructor(readonly name: string, readonly dir: string, readonly config: string) {}

  run(args: string[]): Promise<RunResult> {
    return runBacky(["-c", this.config, ...args], { env: { BACKY2_HOSTNAME: this.name } });
  }

  spawn(args: string[]): Deno.ChildProcess {
    return spawnBacky(["-c", this.config, ...args], { env: { BACKY2_HOSTNAME: this.name } });
  }
}

interface Cluster {
  hosts: [Host, Host];
  shared: string;
  engine: string;
  store: SharedStore;
  /** Expected sha256 of every version that should exist, by uid. */
  expected: Map<string, { sha: string; name: string; host: string }>;
}

async function withCluster(kind: StoreKind, fn: (cluster: Cluster) => Promise<void>): Promise<void> {
  const db = await freshDatabase();
  const shared = await Deno.realPath(await Deno.makeTempDir({ prefix: "backy2-multihost-" }));
  let store: SharedStore | null = null;
  try {
    store = await kind.open(shared);
    const dataBackend = store.dataBackend;
    const hosts = await Promise.all(["alpha", "beta"].map(async (name) => {
      const dir = `${shared}/${name}`;
      await Deno.mkdir(dir);
      const config = `${dir}/backy.cfg`;
      await Deno.writeTextFile(config, hostConfig(dir, db.url, dataBackend));
      return new Host(name, dir, config);
    })) as [Host, Host];
    expectOk(await hosts[0].run(["initdb"]), "initdb");
    await fn({ hosts, shared, engine: db.url, store, expected: new Map() });
  } finally {
    await store?.dispose();
    await Deno.remove(shared, { recursive: true }).catch(() => {});
    await db.drop();
  }
}

function hostConfig(dir: string, engine: string, dataBackend: string[]): string {
  return [
    "[DEFAULTS]",
    `logfile: ${dir}/backy.log`,
    `block_size: ${BLOCK}`,
    "hash_function: sha512",
    `lock_dir: ${dir}/locks`,
    "process_name: backy2",
    "encryption_version: 0",
    "disallow_rm_when_younger_than_days: 0",
    `cachedir: ${dir}/cache`,
    "",
    "[MetaBackend]",
    "type: backy2.meta_backends.sql",
    `engine: ${engine}`,
    `lease_seconds: ${LEASE_SECONDS}`,
    "",
    ...dataBackend,
    // Full cleanups hold `backy` exclusively on every host (the leases), so no host writes blobs meanwhile.
    "cleanup_grace_hours: 0",
    "",
    "[io_file]",
    "simultaneous_reads: 2",
    "",
  ].join("\n");
}

function expectOk(result: RunResult, what: string): void {
  assert(result.code === 0, `${what}: exit ${result.code}\n${result.stderr}`);
}

/** A lock refusal (another host or process holds what the command needs): allowed while hosts race. */
function refused(result: RunResult): boolean {
  return result.code === 100 && /is locked|are running|is running|cleanup is running/.test(result.stderr);
}

/** The uid of a successful `-m backup` (printed on creation and on success). */
function backedUp(result: RunResult, what: string): string {
  expectOk(result, what);
  return result.stdout.trim().split("\n")[0];
}

/** Rewrites a few blocks of an image; some become copies of another image's blocks (cross-image dedup). */
async function mutate(rng: Rng, path: string, other: Uint8Array | null): Promise<Uint8Array> {
  const data = await Deno.readFile(path).catch(() => buildImage(rng, BLOCK, Array(BLOCKS).fill("random")));
  for (let i = 0; i < 3; i++) {
    const id = rng.u32() % BLOCKS;
    if (other && rng.u32() % 2 === 0) data.set(other.subarray(id * BLOCK, (id + 1) * BLOCK), id * BLOCK);
    else crypto.getRandomValues(data.subarray(id * BLOCK, (id + 1) * BLOCK));
  }
  await Deno.writeFile(path, data);
  return data;
}

/** Tries of a backup that a lock refuses (a full cleanup on either host holds `backy` exclusively). */
const BACKUP_TRIES = 50;

async function backup(cluster: Cluster, host: Host, image: string, name: string): Promise<string> {
  const sha = await sha256File(image);
  let result = await host.run(["-m", "backup", `file://${image}`, name]);
  for (let tries = 1; tries < BACKUP_TRIES && refused(result); tries++) {
    await sleep(200);
    result = await host.run(["-m", "backup", `file://${image}`, name]);
  }
  const uid = backedUp(result, `${host.name} backup ${name}`);
  cluster.expected.set(uid, { sha, name, host: host.name });
  return uid;
}

/** Runs `fn` on every item, at most `workers` at a time. */
async function inParallel<T>(items: T[], workers: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]);
  };
  await Promise.all(Array.from({ length: workers }, worker));
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function restoresIdentical(cluster: Cluster, host: Host, uid: string): Promise<RunResult> {
  const target = `${host.dir}/restore-${uid}.img`;
  const result = await host.run(["restore", "-f", uid, `file://${target}`]);
  if (result.code === 0) {
    const what = `restore of ${uid} on ${host.name} (exit 0)\n${result.stderr}`;
    assertEquals(await sha256File(target), cluster.expected.get(uid)!.sha, what);
  }
  await Deno.remove(target).catch(() => {});
  return result;
}

/** One round: everything at once on both hosts; every command succeeds or is refused by a lock. */
async function round(
  cluster: Cluster,
  kind: StoreKind,
  rng: Rng,
  r: number,
  images: Record<string, string>,
): Promise<void> {
  const [alpha, beta] = cluster.hosts;
  const a = await mutate(rng, images.a, null);
  await mutate(rng, images.b, a);
  // The shared image is new each round, and beta backs it up first: that version alone holds its blobs, and
  // alpha's backups of the same name deduplicate onto them while beta removes that version and a cleanup runs.
  await Deno.writeFile(images.s, buildImage(rng, BLOCK, Array(kind.sharedBlocks).fill("random")));
  const doomed = await backup(cluster, beta, images.s, "s");
  const others = [...cluster.expected.keys()].filter((uid) => uid !== doomed);
  const pick = () => others[rng.u32() % others.length];
  const [cleaner, other] = r % 2 === 0 ? [alpha, beta] : [beta, alpha];
  const tasks: Promise<void>[] = [
    backup(cluster, alpha, images.a, "a").then(() => {}),
    backup(cluster, beta, images.b, "b").then(() => {}),
    backup(cluster, alpha, images.s, "s").then(() => {}),
    backup(cluster, alpha, images.s, "s").then(() => {}),
    // The version that alpha's backup of "s" deduplicates against goes, then a cleanup runs while that backup
    // may still hold claims on its blobs.
    (async () => {
      const removed = await beta.run(["rm", "-f", doomed]);
      if (removed.code === 0) cluster.expected.delete(doomed);
      else assert(refused(removed), `round ${r} rm: ${removed.stderr}`);
      const cleaned = await cleaner.run(["cleanup", "--dangerous-force"]);
      assert(cleaned.code === 0 || refused(cleaned), `round ${r} cleanup: ${cleaned.stderr}`);
    })(),
  ];
  if (others.length > 0) {
    const [scrubbed, restored] = [pick(), pick()];
    tasks.push(
      other.run(["scrub", scrubbed]).then((result) => {
        assert(result.code === 0 || refused(result), `round ${r} scrub ${scrubbed}: ${result.stderr}`);
      }),
    );
    tasks.push(
      restoresIdentical(cluster, cleaner, restored).then((result) => {
        assert(result.code === 0 || refused(result), `round ${r} restore ${restored}: ${result.stderr}`);
      }),
    );
  }
  if (r % 5 === 4) {
    tasks.push(
      other.run(["cleanup", "--full"]).then((result) => {
        assert(result.code === 0 || refused(result), `round ${r} cleanup --full: ${result.stderr}`);
      }),
    );
  }
  await Promise.all(tasks);
}

/** Registers the 20 rounds and the killed host for one kind of shared store. */
export function multihostTests(kind: StoreKind): void {
  Deno.test({
    name: `two hosts on one PostgreSQL catalog and ${kind.name}: 20 rounds of everything at once lose nothing`,
    sanitizeOps: false,
    sanitizeResources: false,
    fn: () => roundsLoseNothing(kind),
  });
  Deno.test({
    name: `${kind.name}: a host killed while it holds a lease blocks the other for at most the lease time; ` +
      "backup -c finishes it",
    sanitizeOps: false,
    sanitizeResources: false,
    fn: () => killedHostIsContinued(kind),
  });
}

async function roundsLoseNothing(kind: StoreKind): Promise<void> {
  const started = Date.now();
  await withCluster(kind, async (cluster) => {
    const rng = new Rng(testSeed());
    const images = { a: `${cluster.shared}/a.img`, b: `${cluster.shared}/b.img`, s: `${cluster.shared}/s.img` };
    for (let r = 0; r < ROUNDS; r++) {
      assert(Date.now() - started < DEADLINE_MS, `round ${r} started after the deadline`);
      await round(cluster, kind, rng, r, images);
    }
    const [alpha, beta] = cluster.hosts;
    const listed = (await beta.run(["-m", "ls", "-f", "uid,valid"])).stdout.trim().split("\n").slice(1);
    const versions = new Map(listed.map((line) => line.split("|") as [string, string]));
    assertEquals([...versions.keys()].sort(), [...cluster.expected.keys()].sort(), "the catalog has every version");
    for (const [uid, valid] of versions) assertEquals(valid, "1", `version ${uid} is valid`);
    await inParallel([...versions.keys()], VERIFIERS, async (uid) => {
      const [restored, scrubbed] = await Promise.all([
        restoresIdentical(cluster, alpha, uid),
        beta.run(["scrub", uid]),
      ]);
      expectOk(restored, `final restore of ${uid}`);
      expectOk(scrubbed, `final scrub of ${uid}: no referenced blob is gone`);
    });
    expectOk(await alpha.run(["cleanup", "--full"]), "final cleanup --full");
    const catalog = await openPostgresCatalog(cluster.engine, { create: false });
    try {
      const used = await catalog.usedBlobUids();
      assertEquals([...await cluster.store.blobs()].sort(), [...used].sort(), "exactly the needed blobs");
    } finally {
      await catalog.close();
    }
  });
}

async function killedHostIsContinued(kind: StoreKind): Promise<void> {
  await withCluster(kind, async (cluster) => {
    const [alpha, beta] = cluster.hosts;
    const image = `${cluster.shared}/big.img`;
    await Deno.writeFile(image, buildImage(new Rng(testSeed()), BLOCK, Array(kind.killedBlocks).fill("random")));
    const child = alpha.spawn(["-m", "backup", `file://${image}`, "big"]);
    let uid = "";
    try {
      for (let i = 0; i < 150 && uid === ""; i++) {
        const locks = await beta.run(["-m", "locks", "-f", "name,host,mode"]);
        const held = locks.stdout.split("\n").find((line) => /^[0-9a-f-]{36}\|alpha\|exclusive$/.test(line));
        if (held) uid = held.split("|")[0];
        else await sleep(100);
      }
      assert(uid !== "", "alpha's backup took its version's lease");
      const refusal = await beta.run(["backup", "-c", uid, `file://${image}`, "big"]);
      assert(refused(refusal), `while alpha lives, beta is refused: ${refusal.stderr}`);
      assert(refusal.stderr.includes("on host alpha"), `the refusal names the holder: ${refusal.stderr}`);
    } finally {
      child.kill("SIGKILL");
      await child.output();
    }
    // Blocked for as long as beta's tries of `backup -c` are refused: the try that gets through (and finishes the
    // backup) starts within the lease time after the kill, plus the run of one refused try.
    const killed = Date.now();
    let finished = false;
    let lastTry = killed;
    while (!finished && lastTry - killed < (LEASE_SECONDS + 10) * 1000) {
      lastTry = Date.now();
      const result = await beta.run(["backup", "-c", uid, `file://${image}`, "big"]);
      finished = result.code === 0;
      if (!finished) {
        assert(refused(result), `backup -c: ${result.stderr}`);
        await sleep(200);
      }
    }
    assert(finished, "beta finished alpha's backup");
    const blocked = lastTry - killed;
    assert(blocked <= (LEASE_SECONDS + 3) * 1000, `blocked ${blocked} ms, more than the lease time (and one try)`);
    cluster.expected.set(uid, { sha: await sha256File(image), name: "big", host: "alpha" });
    expectOk(await restoresIdentical(cluster, beta, uid), "the continued version restores byte-identical");
  });
}
