/**
 * CLI tests of the S3 store on a flaky network: backy2 talks to the RADOS Gateway through the fault proxy
 * (tests/fault_proxy.ts), which answers 503, drops connections, loses answers, cuts bodies, sends `<Error>`
 * bodies with 200 and holds requests past the timeout, at seeded random rates. Proven, with everything
 * checked afterwards straight against the gateway:
 * - backups, restores, scrubs and cleanups either succeed with identical data or fail with clear ERROR lines;
 * - a backup cut off by the network finishes with `backup -c`;
 * - no valid version is ever unrestorable, and no scrub or restore invalidates anything over network faults;
 * - no referenced object is ever deleted.
 * Each test prints how many faults it injected. `BACKY2_TEST_SEED` reproduces a run.
 */
import {
  assert,
  assertEquals,
  assertMatch,
  assertSameFile,
  type BlockKind,
  buildImage,
  describeRun,
  parseMachineRows,
  recordedBlocks,
  Rng,
  runBacky,
  type RunResult,
  type Sandbox,
  spawnBacky,
  testSeed,
} from "./helpers.ts";
import {
  bucketKeys,
  createBucket,
  gatewayOrFailingTest,
  referencedBlobUids,
  removeBucket,
  s3DataBackend,
  s3Sandbox,
} from "./s3_helpers.ts";
import { FaultProxy, type FaultRates } from "./fault_proxy.ts";

const BS = 16384;
const BLOCKS = 24;
const ROUNDS = 8;
/** The whole random-fault test stops starting new rounds after this long. */
const BUDGET_MS = 150_000;
const RATES: FaultRates = {
  slowDown: 0.04,
  reset: 0.04,
  lostAnswer: 0.03,
  cutBody: 0.04,
  errorBody: 0.03,
  delay: 0.01,
};
const NETWORK = ["request_timeout: 1", "retry_deadline: 15", "cleanup_grace_hours: 0"];
const gateway = gatewayOrFailingTest("s3_fault_test");

/** A sandbox whose store goes through a fault proxy, and a second config for the same catalog that does not. */
interface Setup {
  sb: Sandbox;
  proxy: FaultProxy;
  bucket: string;
  /** Config file that talks to the gateway directly. */
  direct: string;
}

async function withProxy(label: string, seed: number, extra: string[], fn: (setup: Setup) => Promise<void>) {
  const gw = gateway!;
  const bucket = await createBucket(gw, label);
  const proxy = FaultProxy.start(gw.endpoint, { seed, rates: {}, delayMs: 1300 });
  const keyOf = (line: string) => line.split(":")[0];
  const settings = [...NETWORK.filter((line) => !extra.some((e) => keyOf(e) === keyOf(line))), ...extra];
  const sb = await s3Sandbox(s3DataBackend(gw, bucket, settings, proxy.url), { blockSize: BS });
  const direct = sb.path("direct.cfg");
  const text = await Deno.readTextFile(sb.config);
  await Deno.writeTextFile(direct, text.replace(`endpoint_url: ${proxy.url}`, `endpoint_url: ${gw.endpoint}`));
  try {
    await fn({ sb, proxy, bucket, direct });
  } finally {
    await proxy.close();
    await sb.remove();
    await removeBucket(gw, bucket);
  }
}

/** A failed command printed only ERROR lines (at least one), and exited with a documented code. */
function assertClearFailure(result: RunResult, what: string): void {
  assert([6, 100].includes(result.code), `${what}: exit code ${result.code}\n${describeRun(result)}`);
  const lines = result.stderr.split("\n").filter((line) => line !== "");
  assert(lines.length > 0, `${what}: no error line\n${describeRun(result)}`);
  for (const line of lines) assertMatch(line, /^ {3}ERROR: \[backy2\.logging\] \S/, `${what}: stderr`);
}

/** Every version the catalog calls valid restores, straight from the gateway, to the image it was made from. */
async function assertAllValidRestore(setup: Setup, kept: Map<string, string>): Promise<number> {
  const { sb, direct } = setup;
  const versions = parseMachineRows((await runBacky(["-c", direct, "-m", "ls"])).stdout);
  let restored = 0;
  for (const version of versions.filter((v) => v.valid === "1")) {
    const image = kept.get(version.uid);
    assert(image, `valid version ${version.uid} was not made by a successful backup of this test`);
    const target = sb.path(`check-${version.uid}.img`);
    const result = await runBacky(["-c", direct, "restore", version.uid, `file://${target}`]);
    assertEquals(result.code, 0, `restore of ${version.uid}\n${describeRun(result)}`);
    await assertSameFile(target, image, `restore of ${version.uid}`);
    await Deno.remove(target);
    restored++;
  }
  return restored;
}

/** Every blob a committed version references is still in the bucket. */
async function assertReferencedPresent(setup: Setup): Promise<void> {
  const keys = new Set(await bucketKeys(gateway!, setup.bucket));
  const missing = referencedBlobUids(setup.sb.path("backy.sqlite")).filter((uid) => !keys.has(uid));
  assertEquals(missing, [], "referenced objects missing from the bucket");
}

function changedImage(rng: Rng, previous: Uint8Array | null): Uint8Array {
  if (!previous) {
    const kinds: BlockKind[] = Array.from({ length: BLOCKS }, (_, i) => (i % 7 === 3 ? "zero" : "random"));
    return buildImage(rng, BS, kinds);
  }
  const next = previous.slice();
  for (let n = rng.int(1, 5); n > 0; n--) {
    const at = rng.int(0, BLOCKS - 1) * BS;
    rng.fill(next.subarray(at, at + BS));
  }
  return next;
}

if (gateway) {
  Deno.test("S3 through random faults: every job succeeds with identical data or fails clearly; nothing valid is lost", async () => {
    const seed = testSeed();
    await withProxy("faults", seed, [], async (setup) => {
      const { sb, proxy } = setup;
      const rng = new Rng(seed);
      const kept = new Map<string, string>();
      const outcomes: Record<string, number> = {};
      const count = (what: string) => outcomes[what] = (outcomes[what] ?? 0) + 1;
      const started = Date.now();
      let image: Uint8Array | null = null;
      let base: string | null = null;
      proxy.rates = RATES;
      for (let round = 0; round < ROUNDS && Date.now() - started < BUDGET_MS; round++) {
        image = changedImage(rng, image);
        const path = sb.path(`source-${round}.img`);
        await Deno.writeFile(path, image);
        const args = ["-m", "backup", ...(base ? ["-f", base] : []), `file://${path}`, "vm"];
        let result = await sb.run(args);
        let uid = result.stdout.split("\n")[0];
        if (result.code === 0) count("backup ok");
        else {
          assertClearFailure(result, `backup round ${round}`);
          count("backup failed");
          const version = parseMachineRows((await sb.run(["-m", "ls"])).stdout).find((v) => v.valid === "0");
          if (!version) continue; // failed before a version existed (the store check gave up)
          uid = version.uid;
          for (let attempt = 0; attempt < 3 && result.code !== 0; attempt++) {
            result = await sb.run(["backup", "-c", uid, `file://${path}`, "vm"]);
            count(result.code === 0 ? "backup -c ok" : "backup -c failed");
            if (result.code !== 0) assertClearFailure(result, `backup -c round ${round}`);
          }
          if (result.code !== 0) continue;
        }
        kept.set(uid, path);
        base = uid;

        const [restoreUid, restoreImage] = [...kept][rng.int(0, kept.size - 1)];
        const target = sb.path(`restore-${round}.img`);
        const restored = await sb.run(["restore", restoreUid, `file://${target}`]);
        if (restored.code === 0) {
          await assertSameFile(target, restoreImage, `restore in round ${round}`);
          count("restore ok");
        } else {
          assertClearFailure(restored, `restore round ${round}`);
          count("restore failed");
        }
        await Deno.remove(target).catch(() => {});

        const scrubbed = await sb.run(["scrub", restoreUid]);
        if (scrubbed.code === 0) count("scrub ok");
        else {
          assertClearFailure(scrubbed, `scrub round ${round}`);
          count("scrub failed");
        }

        if (round % 3 === 2 && kept.size > 2) {
          const oldest = [...kept.keys()][0];
          const removed = await sb.run(["rm", "-f", oldest]);
          assertEquals(removed.code, 0, describeRun(removed));
          kept.delete(oldest);
          for (const cleanup of [["cleanup", "--dangerous-force"], ["cleanup", "-f"]]) {
            const cleaned = await sb.run(cleanup);
            if (cleaned.code === 0) count(`${cleanup.join(" ")} ok`);
            else {
              assertClearFailure(cleaned, `${cleanup.join(" ")} round ${round}`);
              count(`${cleanup.join(" ")} failed`);
            }
            proxy.rates = {};
            await assertReferencedPresent(setup);
            proxy.rates = RATES;
          }
        }
        const versions = parseMachineRows((await sb.run(["-m", "ls"])).stdout);
        for (const uid of kept.keys()) {
          assertEquals(versions.find((v) => v.uid === uid)?.valid, "1", `version ${uid} stays valid`);
        }
      }
      proxy.rates = {};
      console.log(`fault proxy (seed ${seed}): ${proxy.summary()}`);
      console.log(`outcomes: ${JSON.stringify(outcomes)}`);
      assert(proxy.totalInjected > 0, "no fault was injected");
      assert(kept.size > 0, "no backup succeeded");
      await assertReferencedPresent(setup);
      const restored = await assertAllValidRestore(setup, kept);
      assertEquals(restored, kept.size, "every kept version is valid and restores");
    });
  });

  Deno.test("S3: a backup cut off by the network fails clearly and finishes with backup -c", async () => {
    await withProxy("cutoff", 1, ["retry_deadline: 2", "bandwidth_write: 150000"], async (setup) => {
      const { sb, proxy } = setup;
      const image = buildImage(new Rng(5), BS, Array.from({ length: 64 }, () => "random" as const));
      const source = sb.path("source.img");
      await Deno.writeFile(source, image);
      const child = spawnBacky(["-c", sb.config, "backup", `file://${source}`, "vm"]);
      const output = child.output();
      let exited = false;
      output.finally(() => exited = true);
      const deadline = Date.now() + 60_000;
      while (await recordedBlocks(sb) === 0 && !exited && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 50));
      }
      proxy.rates = { reset: 1 }; // the network goes away
      const failed = await output;
      const result = {
        code: failed.code,
        stdout: new TextDecoder().decode(failed.stdout),
        stderr: new TextDecoder().decode(failed.stderr),
        signal: failed.signal,
      };
      assertClearFailure(result, "the cut-off backup");
      assertMatch(
        result.stderr,
        /Gave up on the write of blob \w+ after \d+ attempts in 2\.\d s \(retry_deadline 2 s\)/,
      );
      assertMatch(result.stdout, /WARNING: .*The write of blob \w+ failed: S3 PUT .*; retrying in/);
      const [version] = parseMachineRows((await runBacky(["-c", setup.direct, "-m", "ls"])).stdout);
      assertEquals(version.valid, "0");
      assert(await recordedBlocks(sb) > 0, "what was written before the cut is recorded");
      proxy.rates = {}; // and comes back
      const continued = await sb.run(["backup", "-c", version.uid, `file://${source}`, "vm"]);
      assertEquals(continued.code, 0, describeRun(continued));
      console.log(`fault proxy: ${proxy.summary()}`);
      assert(proxy.injected.reset > 0);
      const restored = await assertAllValidRestore(setup, new Map<string, string>([[version.uid, source]]));
      assertEquals(restored, 1);
      await assertReferencedPresent(setup);
    });
  });
}
