/**
 * CLI test of crash safety: a backup killed with SIGKILL in the middle of its data phase leaves an invalid
 * version; `backup -c UID` with the same source completes it without redoing the blocks already recorded,
 * and the completed version restores byte-identical.
 */
import {
  assert,
  assertEquals,
  assertSameFile,
  collect,
  COMPLETE,
  expectRun,
  info,
  parseMachineRows,
  recordedBlobs,
  recordedBlocks,
  type Sandbox,
  withSandbox,
  writeUniqueImage,
} from "./helpers.ts";

const BLOCK_SIZE = 64 * 1024;
/** Blob files that must exist before the kill: far enough in that some blocks were recorded. */
const KILL_AFTER_BLOBS = 256;
/**
 * Source sizes to try: a small one keeps the test fast; if the machine backs it up completely before the kill
 * lands, the test tries again with a larger one.
 */
const SIZES = [64 * 1024 * 1024, 512 * 1024 * 1024];

/**
 * Backs up `big.img` and kills the backup once {@link KILL_AFTER_BLOBS} blobs exist and some are recorded. Returns false when the
 * backup ended on its own first.
 */
async function killMidway(sb: Sandbox, args: string[]): Promise<boolean> {
  const child = sb.spawn(args);
  const finished = child.output();
  let exited = false;
  finished.finally(() => exited = true);
  const deadline = Date.now() + 120_000;
  while (
    !exited && Date.now() < deadline && (await sb.blobCount() < KILL_AFTER_BLOBS || await recordedBlocks(sb) === 0)
  ) {
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  if (!exited) child.kill("SIGKILL");
  const result = collect(await finished, args);
  if (result.signal === "SIGKILL") return true;
  expectRun(result, { code: 0, stderr: "" }, "a backup that ended before the kill");
  return false;
}

Deno.test("a backup killed with SIGKILL leaves an invalid version that backup -c completes and restores exactly", async () => {
  for (const size of SIZES) {
    const blocks = size / BLOCK_SIZE;
    let killed = false;
    await withSandbox({ blockSize: BLOCK_SIZE }, async (sb) => {
      const source = sb.path("big.img");
      await writeUniqueImage(source, size);
      killed = await killMidway(sb, ["backup", sb.url("big.img"), "crashvm"]);
      if (!killed) return;

      const [crashed] = await sb.versions();
      assertEquals(
        [crashed.name, crashed.valid, crashed.size, crashed.size_bytes],
        ["crashvm", "0", String(blocks), String(size)],
        "the killed backup's version",
      );
      const blobsAfterKill = await sb.blobCount();

      const continueArgs = ["backup", "-c", crashed.uid, sb.url("big.img"), "crashvm"];
      const continued = await sb.run(continueArgs);
      // Continuing adds no automatic tags of its own. Random blocks do not compress: stored as large as read.
      expectRun(continued, { code: 0, stderr: "" });
      const written =
        /^ {4}INFO: \[backy2\.logging\] (Wrote (?:no blobs|\d+ blobs?: (.+) of data stored in (.+) \(100 %\))\.)\n/m
          .exec(continued.stdout);
      assert(written && written[2] === written[3], continued.stdout);
      expectRun(continued, {
        code: 0,
        stdout: sb.commandLine(continueArgs) + info(written[1]) + info(`New version: ${crashed.uid} (Tags: [])`) +
          COMPLETE,
      });
      const [done, ...others] = await sb.versions();
      assertEquals(others, [], "no second version");
      assertEquals(
        [done.uid, done.valid, done.size, done.size_bytes, done.tags],
        [crashed.uid, "1", String(blocks), String(size), crashed.tags],
        "the continued version (the killed run had added the automatic tags already)",
      );
      // Blocks recorded before the kill were not written again (blobs written but not yet recorded may be).
      const total = await sb.blobCount();
      assert(total >= blocks, `every block has a blob (${total})`);
      assert(
        total < blobsAfterKill + blocks,
        `the continuation skipped recorded blocks: ${blobsAfterKill} blobs after the kill, ${total} in the end`,
      );

      await sb.restore(crashed.uid, "restored.img");
      await assertSameFile(sb.path("restored.img"), source, "restore of the continued version");
    });
    if (killed) return;
  }
  throw new Error(`every backup finished before ${KILL_AFTER_BLOBS} blobs were written; the kill never landed`);
});

Deno.test("a backup killed right after its first checkpoint is continued from that checkpoint, not from the start", async () => {
  const size = 128 * 1024 * 1024;
  const blocks = size / BLOCK_SIZE;
  await withSandbox({ blockSize: BLOCK_SIZE }, async (sb) => {
    await writeUniqueImage(sb.path("big.img"), size);
    const args = ["backup", sb.url("big.img"), "crashvm"];
    const child = sb.spawn(args);
    const finished = child.output();
    let exited = false;
    finished.finally(() => exited = true);
    const deadline = Date.now() + 60_000;
    while (!exited && Date.now() < deadline && await recordedBlobs(sb) === 0) {
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    if (!exited) child.kill("SIGKILL");
    const killed = collect(await finished, args);
    assertEquals(killed.signal, "SIGKILL", "the backup was killed before it finished");

    const [crashed] = await sb.versions();
    const continued = await sb.run(["backup", "-c", crashed.uid, sb.url("big.img"), "crashvm"]);
    expectRun(continued, { code: 0, stderr: "" }, "backup -c");
    const stats = await sb.run(["-m", "stats", crashed.uid, "-f", "blocks read"]);
    expectRun(stats, { code: 0, stderr: "" });
    const [row] = parseMachineRows(stats.stdout);
    const read = Number(row["blocks read"]);
    assert(read < blocks, `backup -c read ${read} of ${blocks} blocks: the first checkpoint saved no draft`);
    await sb.restore(crashed.uid, "restored.img");
    await assertSameFile(sb.path("restored.img"), sb.path("big.img"), "restore of the continued version");
  });
});
