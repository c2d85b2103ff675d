/**
 * CLI test of several backup hosts: two "hosts" (backy2 processes with their own BACKY2_HOSTNAME, lock_dir
 * and log) share one PostgreSQL catalog (a fresh database on the test server of scripts/pg-cluster) and one
 * file store. For 20 rounds they run at once: backups of different images and of the same name, `rm` of a
 * version the other host deduplicates against, fast and full cleanups, scrubs and restores. Afterwards every
 * valid version restores byte-identical, every version scrubs clean, and `cleanup --full` leaves exactly the
 * blobs the catalog uses. A host killed with SIGKILL while it holds a lease blocks the other one no longer
 * than the lease time, and the other host finishes its backup with `backup -c`.
 *
 * Every loop is bounded in count and time. Without BACKY2_PG_URL this file fails (it is never skipped).
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
const BLOCKS = 48;
/** The shared image: large enough that alpha's backups of it still run when the cleanup comes. */
const SHARED_BLOCKS = 1024;
const ROUNDS = 20;
const LEASE_SECONDS = 3;
/** The whole proof must end within this. */
const DEADLINE_MS = 8 * 60_000;

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
  /** Expected sha256 of every version that should exist, by uid. */
  expected: Map<string, { sha: string; name: string; host: string }>;
}

async function withCluster(fn: (cluster: Cluster) => Promise<void>): Promise<void> {
  const db = await freshDatabase();
  const shared = await Deno.realPath(await Deno.makeTempDir({ prefix: "backy2-multihost-" }));
  try {
    const hosts = await Promise.all(["alpha", "beta"].map(async (name) => {
      const dir = `${shared}/${name}`;
      await Deno.mkdir(dir);
      const config = `${dir}/backy.cfg`;
      await Deno.writeTextFile(config, hostConfig(dir, db.url, `${shared}/store`));
      return new Host(name, dir, config);
    })) as [Host, Host];
    expectOk(await hosts[0].run(["initdb"]), "initdb");
    await fn({ hosts, shared, engine: db.url, expected: new Map() });
  } finally {
    await Deno.remove(shared, { recursive: true }).catch(() => {});
    await db.drop();
  }
}

function hostConfig(dir: string, engine: string, store: string): string {
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
    "[DataBackend]",
    "type: backy2.data_backends.file",
    `path: ${store}`,
    "simultaneous_writes: 2",
    "simultaneous_reads: 2",
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

async function backup(cluster: Cluster, host: Host, image: string, name: string): Promise<string> {
  const sha = await sha256File(image);
  const uid = backedUp(await host.run(["-m", "backup", `file://${image}`, name]), `${host.name} backup ${name}`);
  cluster.expected.set(uid, { sha, name, host: host.name });
  return uid;
}

async function restoresIdentical(cluster: Cluster, host: Host, uid: string): Promise<RunResult> {
  const target = `${host.dir}/restore-${uid}.img`;
  const result = await host.run(["restore", "-f", uid, `file://${target}`]);
  if (result.code === 0) {
    assertEquals(await sha256File(target), cluster.expected.get(uid)!.sha, `restore of ${uid} on ${host.name}`);
  }
  await Deno.remove(target).catch(() => {});
  return result;
}

/** One round: everything at once on both hosts; every command succeeds or is refused by a lock. */
async function round(cluster: Cluster, rng: Rng, r: number, images: Record<string, string>): Promise<void> {
  const [alpha, beta] = cluster.hosts;
  const a = await mutate(rng, images.a, null);
  await mutate(rng, images.b, a);
  // The shared image is new each round, and beta backs it up first: that version alone holds its blobs, and
  // alpha's backups of the same name deduplicate onto them while beta removes that version and a cleanup runs.
  await Deno.writeFile(images.s, buildImage(rng, BLOCK, Array(SHARED_BLOCKS).fill("random")));
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

/** Blob uids in the shared store. */
async function storedBlobs(store: string): Promise<Set<string>> {
  const found = new Set<string>();
  const walk = async (dir: string) => {
    for await (const entry of Deno.readDir(dir)) {
      if (entry.isDirectory) await walk(`${dir}/${entry.name}`);
      else if (entry.name.endsWith(".blob")) found.add(entry.name.slice(0, -".blob".length));
    }
  };
  await walk(store);
  return found;
}

Deno.test({
  name: "two hosts on one PostgreSQL catalog and one store: 20 rounds of everything at once lose nothing",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const started = Date.now();
    await withCluster(async (cluster) => {
      const rng = new Rng(testSeed());
      const images = { a: `${cluster.shared}/a.img`, b: `${cluster.shared}/b.img`, s: `${cluster.shared}/s.img` };
      for (let r = 0; r < ROUNDS; r++) {
        assert(Date.now() - started < DEADLINE_MS, `round ${r} started after the deadline`);
        await round(cluster, rng, r, images);
      }
      const [alpha, beta] = cluster.hosts;
      const listed = (await beta.run(["-m", "ls", "-f", "uid,valid"])).stdout.trim().split("\n").slice(1);
      const versions = new Map(listed.map((line) => line.split("|") as [string, string]));
      assertEquals([...versions.keys()].sort(), [...cluster.expected.keys()].sort(), "the catalog has every version");
      for (const [uid, valid] of versions) {
        assertEquals(valid, "1", `version ${uid} is valid`);
        expectOk(await restoresIdentical(cluster, alpha, uid), `final restore of ${uid}`);
        expectOk(await beta.run(["scrub", uid]), `final scrub of ${uid}: no referenced blob is gone`);
      }
      expectOk(await alpha.run(["cleanup", "--full"]), "final cleanup --full");
      const catalog = await openPostgresCatalog(cluster.engine, { create: false });
      try {
        const used = await catalog.usedBlobUids();
        assertEquals(
          [...await storedBlobs(`${cluster.shared}/store`)].sort(),
          [...used].sort(),
          "exactly the needed blobs",
        );
      } finally {
        await catalog.close();
      }
    });
  },
});

Deno.test({
  name: "a host killed while it holds a lease blocks the other for at most the lease time; backup -c finishes it",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    await withCluster(async (cluster) => {
      const [alpha, beta] = cluster.hosts;
      const image = `${cluster.shared}/big.img`;
      await Deno.writeFile(image, buildImage(new Rng(testSeed()), BLOCK, Array(8192).fill("random")));
      const child = alpha.spawn(["-m", "backup", `file://${image}`, "big"]);
      let uid = "";
      try {
        for (let i = 0; i < 150 && uid === ""; i++) {
          const locks = await beta.run(["-m", "locks", "-f", "name,host,mode"]);
          const held = locks.stdout.split("\n").find((line) => /^[0-9a-f-]{36}\|alpha\|exclusive$/.test(line));
          if (held) uid = held.split("|")[0];
          else await new Promise((resolve) => setTimeout(resolve, 100));
        }
        assert(uid !== "", "alpha's backup took its version's lease");
        const blocked = await beta.run(["backup", "-c", uid, `file://${image}`, "big"]);
        assert(refused(blocked), `while alpha lives, beta is refused: ${blocked.stderr}`);
        assert(blocked.stderr.includes("on host alpha"), `the refusal names the holder: ${blocked.stderr}`);
      } finally {
        child.kill("SIGKILL");
        await child.output();
      }
      const killed = Date.now();
      let finished: RunResult | null = null;
      while (Date.now() - killed < (LEASE_SECONDS + 10) * 1000) {
        const result = await beta.run(["backup", "-c", uid, `file://${image}`, "big"]);
        if (result.code === 0) {
          finished = result;
          break;
        }
        assert(refused(result), `backup -c: ${result.stderr}`);
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      assert(finished, "beta finished alpha's backup");
      assert(Date.now() - killed <= (LEASE_SECONDS + 10) * 1000, "within the lease time (and the run itself)");
      cluster.expected.set(uid, { sha: await sha256File(image), name: "big", host: "alpha" });
      expectOk(await restoresIdentical(cluster, beta, uid), "the continued version restores byte-identical");
    });
  },
});
