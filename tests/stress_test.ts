/**
 * Stress test of the cleanup race (a cleanup deleting a blob that a concurrent backup has just deduplicated
 * onto, as in Benji's issue 119): in every round a backup, an `rm` of an older version and a
 * `cleanup --dangerous-force` (no grace period) run at the same time, on data that deduplicates against exactly
 * the blobs the `rm` is releasing. Afterwards every valid version must restore byte-identically,
 * `cleanup --full` must leave every needed blob in place, and scrub must pass.
 */
import {
  assertEquals,
  assertSameFile,
  collect,
  describeRun,
  Rng,
  type RunResult,
  testSeed,
  withSandbox,
} from "./helpers.ts";

const ROUNDS = 20;
const BLOCK_SIZE = 4096;
const COMMON = 16;
const UNIQUE = 1024;
const BORROWED = 16;
/** How long after the backup starts the `rm` starts: varied per round, around the backup's first lookups. */
const RM_DELAYS_MS = [50, 120, 180, 250, 400];

/**
 * Round i: first some blocks of round i-2 (whose version the concurrent `rm` releases), so the backup finds
 * them for deduplication early; then common blocks; then many blocks of its own, which keep the backup busy
 * while the `rm` and the cleanup run.
 */
function roundImage(common: Uint8Array, own: Uint8Array[], round: number): Uint8Array {
  const borrowed = round >= 2 ? own[round - 2].subarray(0, BORROWED * BLOCK_SIZE) : new Uint8Array(0);
  const image = new Uint8Array(borrowed.length + common.length + own[round].length);
  image.set(borrowed);
  image.set(common, borrowed.length);
  image.set(own[round], borrowed.length + common.length);
  return image;
}

function collectOf(child: Deno.ChildProcess, name: string): Promise<RunResult> {
  return child.output().then((output) => collect(output, [name]));
}

Deno.test({
  name: `stress: ${ROUNDS} rounds of concurrent backup, rm and cleanup --dangerous-force lose nothing`,
  sanitizeResources: false,
  fn: async () => {
    const seed = testSeed();
    const rng = new Rng(seed);
    const context = `seed ${seed} (rerun with BACKY2_TEST_SEED=${seed})`;
    await withSandbox({ blockSize: BLOCK_SIZE, simultaneousWrites: 2 }, async (sb) => {
      const common = rng.bytes(COMMON * BLOCK_SIZE);
      const own = Array.from({ length: ROUNDS }, () => rng.bytes(UNIQUE * BLOCK_SIZE));
      const imageOf = new Map<string, string>();
      const uids: string[] = [];
      for (let round = 0; round < ROUNDS; round++) {
        const image = sb.path(`round-${round}.img`);
        await Deno.writeFile(image, roundImage(common, own, round));
        const backupJob = collectOf(sb.spawn(["-m", "backup", `file://${image}`, "vm"]), "backup");
        await new Promise((resolve) => setTimeout(resolve, rng.pick(RM_DELAYS_MS)));
        if (round >= 2) {
          const rm = await sb.run(["rm", "-f", uids[round - 2]]);
          assertEquals(rm.code, 0, `rm in round ${round}, ${context}\n${describeRun(rm)}`);
        }
        const cleanup = await sb.run(["cleanup", "--dangerous-force"]);
        assertEquals(cleanup.code, 0, `cleanup in round ${round}, ${context}\n${describeRun(cleanup)}`);
        const backup = await backupJob;
        assertEquals(backup.code, 0, `backup of round ${round}, ${context}\n${describeRun(backup)}`);
        const uid = backup.stdout.split("\n")[0];
        uids.push(uid);
        imageOf.set(uid, image);
      }
      // Once more without the race: everything rm released is now really gone.
      const lastCleanup = await sb.run(["cleanup", "--dangerous-force"]);
      assertEquals(lastCleanup.code, 0, describeRun(lastCleanup));
      const full = await sb.run(["cleanup", "--full"]);
      assertEquals(full.code, 0, describeRun(full));

      const versions = await sb.versions();
      assertEquals(versions.length, 2, `versions left after ${ROUNDS} rounds, ${context}`);
      for (const version of versions) {
        assertEquals(version.valid, "1", `version ${version.uid} valid, ${context}`);
        const restored = `restored-${version.uid}.img`;
        await sb.restore(version.uid, restored);
        await assertSameFile(sb.path(restored), imageOf.get(version.uid)!, context);
        const scrub = await sb.run(["scrub", version.uid]);
        assertEquals(scrub.code, 0, `scrub ${version.uid}, ${context}\n${describeRun(scrub)}`);
      }
      // Exactly the blobs the two remaining versions use are left (all their blocks differ).
      assertEquals(await sb.blobCount(), COMMON + 2 * (UNIQUE + BORROWED), `blobs left, ${context}`);
    });
  },
});
