/**
 * Port of the reference's acceptance smoketest (its `smoketest.py`), with the comparison it meant to make:
 * an image of about 128 KiB in 4 KiB blocks is changed round after round (random patches, discarded
 * block runs, zeroed bytes, growth, shrinking, sometimes nothing) with `rbd diff`-style hints describing
 * each change; every round is backed up differentially on the previous version, scrubbed (plain or against
 * the source) and restored, and the restore must equal that round's image byte for byte. Only the last 10
 * versions are kept (`rm -f`, with `cleanup --dangerous-force` every 7th round); the oldest kept versions
 * must still restore at the end.
 *
 * The data comes from a seeded PRNG: a failure prints the seed, and `BACKY2_TEST_SEED=N` replays it.
 */
import {
  assert,
  assertEquals,
  assertFileBytes,
  expectRun,
  type HintEntry,
  Rng,
  testSeed,
  withSandbox,
} from "./helpers.ts";

const BS = 4096;
const ROUNDS = 32;
/** Versions kept; older ones are removed (`rm -f`) and `cleanup --dangerous-force` runs every 7th round. */
const KEEP = 10;
const BASE_SIZE = 128 * 1024;

interface Round {
  image: Uint8Array;
  /** null for the first, full backup. */
  hints: HintEntry[] | null;
  /** What changed, for failure messages. */
  notes: string[];
}

/** About 128 KiB of random blocks, a few of them zero or repeated. */
function firstImage(rng: Rng): Round {
  const size = BASE_SIZE + rng.int(-BS, BS);
  const image = rng.bytes(size);
  const blocks = Math.ceil(size / BS);
  for (let i = 0; i < 3; i++) {
    const zero = rng.int(0, blocks - 2);
    image.fill(0, zero * BS, (zero + 1) * BS);
    const from = rng.int(0, blocks - 2);
    image.copyWithin(rng.int(0, blocks - 2) * BS, from * BS, (from + 1) * BS);
  }
  return { image, hints: null, notes: [`full backup of ${size} bytes`] };
}

/** `exists` values: `"false"` and JSON-falsy values mean false; `"true"`, `true` and `1` true. */
const yes = (rng: Rng) => rng.pick<HintEntry["exists"]>(["true", "true", true, 1]);
const no = (rng: Rng) => rng.pick<HintEntry["exists"]>(["false", "false", false, 0, "", null]);

/** The next image and the hints that describe how it differs from `previous`. */
function mutate(rng: Rng, previous: Uint8Array): Round {
  if (rng.chance(1 / 11)) return { image: previous, hints: [], notes: ["unchanged"] };
  const notes: string[] = [];
  const hints: HintEntry[] = [];
  let size = BASE_SIZE + rng.int(-BS, BS);
  if (rng.chance(0.2)) size = Math.round(size / BS) * BS;
  const image = new Uint8Array(size);
  image.set(previous.subarray(0, Math.min(previous.length, size)));
  if (size > previous.length) {
    // The grown region: the old partial last block changes size, so it must be read again too.
    if (rng.chance(0.8)) rng.fill(image.subarray(previous.length));
    hints.push({ offset: previous.length, length: size - previous.length, exists: yes(rng) });
    notes.push(`grown from ${previous.length} to ${size}`);
  } else if (size < previous.length) {
    // The new last block is shorter than the base's block with that id.
    const last = Math.floor((size - 1) / BS) * BS;
    hints.push({ offset: last, length: size - last, exists: yes(rng) });
    notes.push(`shrunk from ${previous.length} to ${size}`);
  }
  const blocks = Math.ceil(size / BS);
  const patches = rng.int(0, 10);
  for (let i = 0; i < patches; i++) {
    const kind = rng.int(0, 2);
    if (kind === 0) {
      const length = rng.int(1, BS);
      const offset = rng.int(0, size - length);
      rng.fill(image.subarray(offset, offset + length));
      hints.push({ offset, length, exists: yes(rng) });
      notes.push(`random bytes at ${offset}+${length}`);
    } else if (kind === 1) {
      // A discarded run of whole blocks: rbd reports it with exists false.
      const first = rng.int(0, blocks - 1);
      const offset = first * BS;
      const end = Math.min((first + rng.int(1, 4)) * BS, size);
      image.fill(0, offset, end);
      hints.push({ offset, length: end - offset, exists: no(rng) });
      notes.push(`discarded blocks at ${offset}+${end - offset}`);
    } else {
      // Zeros written into part of blocks: data that happens to be zero, reported as existing.
      const length = Math.min(rng.int(1, 4 * BS), size);
      const offset = rng.int(0, size - length);
      image.fill(0, offset, offset + length);
      hints.push({ offset, length, exists: yes(rng) });
      notes.push(`zero bytes at ${offset}+${length}`);
    }
  }
  return { image, hints, notes };
}

Deno.test(`smoketest: ${ROUNDS} rounds of changed images, differential backups with hints and exact restores`, async () => {
  const seed = testSeed();
  const rng = new Rng(seed);
  /** Versions still in the catalog, oldest first. */
  const kept: { uid: string; round: Round; index: number }[] = [];
  let current = "";
  try {
    await withSandbox({ blockSize: BS, simultaneousWrites: 5, simultaneousReads: 5 }, async (sb) => {
      const ok = async (args: string[]) => expectRun(await sb.run(args), { code: 0, stderr: "" }, args.join(" "));
      const restoreAndCompare = async (uid: string, image: Uint8Array, mode: number) => {
        const target = "restored.img";
        if (mode === 2) {
          // Forced over a file of the same size full of other data: every block, zeros too, must be written.
          await Deno.writeFile(sb.path(target), rng.bytes(image.length));
          await sb.restore(uid, target, ["-f"]);
        } else {
          await sb.restore(uid, target, mode === 1 ? ["-s"] : []);
        }
        await assertFileBytes(sb.path(target), image, `restore (mode ${["new", "sparse", "forced"][mode]})`);
        await Deno.remove(sb.path(target));
      };

      for (let i = 0; i < ROUNDS; i++) {
        const previous = kept.at(-1);
        const round = previous ? mutate(rng, previous.round.image) : firstImage(rng);
        current = `round ${i}: ${round.notes.join("; ")}; hints ${JSON.stringify(round.hints)}`;
        await Deno.writeFile(sb.path("image.img"), round.image);
        let uid: string;
        if (previous && round.hints) {
          await Deno.writeTextFile(sb.path("hints.json"), JSON.stringify(round.hints) + "\n");
          uid = await sb.backup(["-f", previous.uid, "-r", sb.path("hints.json"), sb.url("image.img"), "smoke"]);
        } else {
          uid = await sb.backup([sb.url("image.img"), "smoke"]);
        }
        kept.push({ uid, round, index: i });
        // The reference scrubs and deep-scrubs every round; alternating keeps the suite fast.
        await ok(i % 2 === 0 ? ["scrub", uid] : ["scrub", "-s", sb.url("image.img"), uid]);
        await restoreAndCompare(uid, round.image, i % 3);
        if (kept.length > KEEP) await ok(["rm", "-f", kept.shift()!.uid]);
        if (i % 7 === 6) await ok(["cleanup", "--dangerous-force"]);
      }

      current = "final checks";
      await ok(["cleanup", "--dangerous-force"]);
      const versions = await sb.versions();
      assertEquals(versions.map((v) => v.uid), kept.map((k) => k.uid), `the last ${KEEP} versions, in order`);
      for (const [i, v] of versions.entries()) {
        const size = kept[i].round.image.length;
        assertEquals([v.valid, v.size_bytes, v.size], ["1", String(size), String(Math.ceil(size / BS))]);
      }
      // Removed versions and cleanups must not have taken blobs that the kept versions still use.
      for (const k of [kept[0], kept[Math.floor(KEEP / 2)]]) {
        current = `restore of round ${k.index} at the end`;
        await restoreAndCompare(k.uid, k.round.image, 0);
      }
    });
  } catch (err) {
    assert(err instanceof Error);
    err.message = `smoketest failed with seed ${seed} (rerun with BACKY2_TEST_SEED=${seed}) at ${current}\n` +
      err.message;
    throw err;
  }
});
