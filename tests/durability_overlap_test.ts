/**
 * CLI tests of the overlap between making a batch of blobs durable and writing the next one. A test hook
 * (`BACKY2_TEST_BARRIER`, see src/store/barrier_probe.ts) slows each durability barrier of the file store and
 * logs which blobs it covers. Watched from outside while the backup runs: the catalog never references a blob
 * whose barrier has not ended, and blobs of the next batch are written while a barrier is pending. A SIGKILL in
 * that window, and a barrier that fails, both leave an invalid version that `backup -c` completes, and the
 * completed version restores byte-identical.
 */
import {
  assert,
  assertEquals,
  assertSameFile,
  collect,
  expectRun,
  type RunResult,
  type Sandbox,
  testCatalogKind,
  withSandbox,
  writeUniqueImage,
} from "./helpers.ts";
import { DatabaseSync } from "node:sqlite";

const BLOCK_SIZE = 64 * 1024;
const SIZE = 64 * 1024 * 1024;
/** The tests look into the sandbox's SQLite catalog while the backup runs. */
const ignore = testCatalogKind() !== "sqlite";

/** What the barrier log says: blobs of barriers that ended, of the one pending (if any), and how many began. */
interface Barriers {
  durable: Set<string>;
  pending: Set<string>;
  begun: number;
}

async function readBarriers(path: string): Promise<Barriers> {
  const text = await Deno.readTextFile(path).catch(() => "");
  const covered = new Map<number, string[]>();
  const ended = new Set<number>();
  for (const line of text.split("\n")) {
    const [word, number, ...uids] = line.split(" ");
    if (word === "begin") covered.set(Number(number), uids);
    if (word === "end") ended.add(Number(number));
  }
  const durable = new Set<string>();
  const pending = new Set<string>();
  for (const [n, uids] of covered) for (const uid of uids) (ended.has(n) ? durable : pending).add(uid);
  return { durable, pending, begun: covered.size };
}

/** Blob uids the catalog references (a white-box look into the sandbox's SQLite catalog). */
function referencedBlobs(sb: Sandbox): string[] {
  let db: DatabaseSync | null = null;
  try {
    db = new DatabaseSync(sb.path("backy.sqlite"), { readOnly: true });
    return (db.prepare("SELECT uid FROM blobs WHERE uid IS NOT NULL").all() as { uid: string }[]).map((row) => row.uid);
  } catch {
    return [];
  } finally {
    db?.close();
  }
}

async function blobUids(sb: Sandbox): Promise<string[]> {
  return (await sb.blobs()).map((path) => path.slice(path.lastIndexOf("/") + 1, -".blob".length));
}

/** Every blob the catalog references has been made durable by an ended barrier. */
async function assertNoReferenceBeforeDurable(sb: Sandbox, log: string): Promise<number> {
  // The catalog first, then the log: a barrier that ends in between can only make the check easier to pass.
  const referenced = referencedBlobs(sb);
  const { durable } = await readBarriers(log);
  const early = referenced.filter((uid) => !durable.has(uid));
  assertEquals(early, [], "blobs referenced by the catalog before their durability barrier ended");
  return referenced.length;
}

/** Restores the version with `backup -c` done and compares it with the source. */
async function continueAndRestore(sb: Sandbox, uid: string): Promise<void> {
  const continued = await sb.run(["backup", "-c", uid, sb.url("big.img"), "overlap"]);
  expectRun(continued, { code: 0, stderr: "" }, "backup -c");
  const [version, ...others] = await sb.versions();
  assertEquals([version.uid, version.valid, others.length], [uid, "1", 0], "the continued version");
  await sb.restore(uid, "restored.img");
  await assertSameFile(sb.path("restored.img"), sb.path("big.img"), "restore of the continued version");
}

Deno.test({
  name: "a SIGKILL while batch N is made durable and N+1 is written: no early reference, backup -c completes it",
  ignore,
}, async () => {
  await withSandbox({ blockSize: BLOCK_SIZE }, async (sb) => {
    await writeUniqueImage(sb.path("big.img"), SIZE);
    const log = sb.path("barriers.log");
    const args = ["backup", sb.url("big.img"), "overlap"];
    const child = sb.spawn(args, { env: { BACKY2_TEST_BARRIER: `log=${log},delay=300` } });
    const finished = child.output();
    let exited = false;
    finished.finally(() => exited = true);
    let overlapSeen = false;
    const deadline = Date.now() + 120_000;
    while (!exited && Date.now() < deadline) {
      const recorded = await assertNoReferenceBeforeDurable(sb, log);
      const { durable, pending, begun } = await readBarriers(log);
      const onDisk = await blobUids(sb);
      // Blobs that no barrier has begun to cover yet: the next batch, written while barrier `begun` is pending.
      const next = onDisk.filter((uid) => !durable.has(uid) && !pending.has(uid));
      if (recorded > 0 && begun >= 2 && pending.size > 0 && next.length > 0) {
        overlapSeen = true;
        child.kill("SIGKILL");
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    const killed: RunResult = collect(await finished, args);
    assert(overlapSeen, `the overlap window was never seen (the backup ended with ${killed.code})`);
    assertEquals(killed.signal, "SIGKILL", "the backup was killed in the window");
    await assertNoReferenceBeforeDurable(sb, log);
    const { pending } = await readBarriers(log);
    const referenced = new Set(referencedBlobs(sb));
    assert([...pending].every((uid) => !referenced.has(uid)), "the batch being made durable is not in the catalog");

    const [crashed] = await sb.versions();
    assertEquals(crashed.valid, "0", "the killed backup's version is invalid");
    await continueAndRestore(sb, crashed.uid);
  });
});

Deno.test({
  name: "a failed durability barrier fails the backup without referencing its batch; backup -c completes it",
  ignore,
}, async () => {
  await withSandbox({ blockSize: BLOCK_SIZE }, async (sb) => {
    await writeUniqueImage(sb.path("big.img"), SIZE);
    const log = sb.path("barriers.log");
    const failed = await sb.run(["backup", sb.url("big.img"), "overlap"], {
      env: { BACKY2_TEST_BARRIER: `log=${log},fail=3` },
    });
    // A failed flush fails the backup like any other failure of its checkpoints: one line, exit 100.
    assertEquals(failed.code, 100, `exit code of a failed barrier:\n${failed.stdout}\n${failed.stderr}`);
    assertEquals(
      failed.stderr.split("\n").filter((line) => line.includes("ERROR")),
      [
        "   ERROR: [backy2.logging] injected failure of durability barrier 3 (BACKY2_TEST_BARRIER)",
        "   ERROR: [backy2.logging] Backy failed.",
      ],
      "the failure is reported in one line",
    );
    await assertNoReferenceBeforeDurable(sb, log);
    const { pending, begun } = await readBarriers(log);
    assertEquals(begun, 3, "no barrier after the failed one");
    assert(pending.size > 0, "the failed barrier covered blobs");
    const referenced = new Set(referencedBlobs(sb));
    assert([...pending].every((uid) => !referenced.has(uid)), "no blob of the failed barrier is referenced");

    const [version] = await sb.versions();
    assertEquals(version.valid, "0", "the failed backup's version is invalid");
    await continueAndRestore(sb, version.uid);
  });
});
