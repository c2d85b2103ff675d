/**
 * CLI test of the catalog at scale: a 1 TiB image (262,144 blocks of 4 MiB) with three hinted
 * blocks, then an unchanged differential of it. `ls`, `stats`, `du`, `scrub`, `restore`, `rm` and both
 * cleanups must stay exact on that layout, and the differential must add little to the catalog. Timings
 * belong to scripts/bench, not here.
 */
import { assertEquals, expectRun, parseMachineRows, type Sandbox, withSandbox, writeHints } from "./helpers.ts";

const MiB = 1 << 20;
const BLOCK = 4 * MiB;
const TiB = 2 ** 40;
const BLOCKS = TiB / BLOCK;
const HINTED = [0, 100000, BLOCKS - 1];
const REAL = HINTED.length * BLOCK;

async function catalogBytes(sb: Sandbox): Promise<number> {
  let total = 0;
  for (const suffix of ["", "-wal"]) {
    total += await Deno.stat(sb.path(`backy.sqlite${suffix}`)).then((s) => s.size, () => 0);
  }
  return total;
}

async function machine(sb: Sandbox, args: string[]): Promise<Record<string, string>[]> {
  const result = await sb.run(["-m", ...args]);
  expectRun(result, { code: 0, stderr: "" }, args.join(" "));
  return parseMachineRows(result.stdout);
}

Deno.test("a 1 TiB image: hinted backup, unchanged differential, then ls, stats, du, scrub, restore, rm and cleanup", async () => {
  await withSandbox({ blockSize: BLOCK }, async (sb) => {
    await writeHints(
      sb.path("hints.json"),
      HINTED.map((id) => ({ offset: id * BLOCK, length: BLOCK, exists: "true" })),
    );
    await Deno.writeTextFile(sb.path("empty.json"), "[]\n");
    const base = await sb.backup(["-r", sb.path("hints.json"), "null://1T", "big"]);
    assertEquals(await sb.blobCount(), 3, "only the hinted blocks are stored");

    const before = await catalogBytes(sb);
    const diff = await sb.backup(["-r", sb.path("empty.json"), "-f", base, "null://1T", "big"]);
    const growth = await catalogBytes(sb) - before;
    assertEquals(growth <= MiB, true, `the unchanged differential added ${growth} bytes to the catalog`);
    assertEquals(await sb.blobCount(), 3, "the differential stores nothing");

    const versions = Object.fromEntries((await sb.versions()).map((v) => [v.uid, [v.size, v.size_bytes, v.valid]]));
    assertEquals(versions, { [base]: [String(BLOCKS), String(TiB), "1"], [diff]: [String(BLOCKS), String(TiB), "1"] });

    const stats = Object.fromEntries((await machine(sb, ["stats"])).map((row) => [row.uid, row]));
    const counts = (uid: string) =>
      ["blocks read", "blocks written", "blocks dedup", "blocks sparse"].map((field) => stats[uid][field]);
    assertEquals(counts(base), ["3", "3", "0", String(BLOCKS - 3)]);
    assertEquals(counts(diff), ["0", "0", "3", String(BLOCKS - 3)], "the differential copies every block");

    const shared = [String(REAL), String(TiB - REAL), "0", String(REAL), "0", String(REAL / 2), "0"];
    assertEquals((await machine(sb, ["du", diff])).map(Object.values), [shared]);

    for (const uid of [base, diff]) {
      expectRun(await sb.run(["scrub", uid]), { code: 0, stderr: "" }, `scrub ${uid}`);
      expectRun(await sb.run(["restore", uid, "null://"]), { code: 0, stderr: "" }, `restore ${uid}`);
    }

    expectRun(await sb.run(["rm", "-f", base]), { code: 0, stderr: "" }, "rm of the base");
    const own = [String(REAL), String(TiB - REAL), "0", "0", String(REAL), String(REAL), String(REAL)];
    assertEquals((await machine(sb, ["du", diff])).map(Object.values), [own], "du once the base is gone");
    expectRun(await sb.run(["cleanup", "--dangerous-force"]), { code: 0, stderr: "" }, "cleanup");
    assertEquals(await sb.blobCount(), 3, "the differential still needs every blob");
    expectRun(await sb.run(["scrub", diff]), { code: 0, stderr: "" }, "scrub after the cleanup");

    expectRun(await sb.run(["rm", "-f", diff]), { code: 0, stderr: "" }, "rm of the differential");
    expectRun(await sb.run(["cleanup", "--dangerous-force"]), { code: 0, stderr: "" }, "cleanup of the last version");
    assertEquals(await sb.blobCount(), 0, "nothing is left");
    assertEquals(await sb.versions(), []);
  });
});
