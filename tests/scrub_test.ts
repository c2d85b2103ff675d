/**
 * CLI tests of scrub, invalidation and restores of damaged versions: blobs are damaged on disk (a flipped
 * byte, a truncated file, a deleted file) and the tests check the exact console lines, exit codes (0, 6, 20,
 * 100), which versions `ls` then shows as invalid, that restores still write every readable block correctly,
 * that new backups do not deduplicate onto a bad blob, and that a clean scrub re-validates a repaired
 * version.
 */
import { createHash } from "node:crypto";
import {
  assert,
  assertEquals,
  assertMatch,
  type BlockKind,
  buildImage,
  COMPLETE,
  describeRun,
  error,
  expectRun,
  FAILED,
  info,
  Rng,
  type RunResult,
  type Sandbox,
  stripProgress,
  withSandbox,
} from "./helpers.ts";

const BS = 4096;

/** Hex sha512, the checksum backy2 stores for a block (hash_function: sha512). */
function sha512(bytes: Uint8Array): string {
  return createHash("sha512").update(bytes).digest("hex");
}

function block(image: Uint8Array, id: number): Uint8Array {
  return image.subarray(id * BS, (id + 1) * BS);
}

/** The blob uid of a blob file path: its name without `.blob`. */
function uidOf(path: string): string {
  return path.slice(path.lastIndexOf("/") + 1, -".blob".length);
}

/** The blob file that holds exactly `bytes` (blobs are stored plain with encryption_version 0). */
async function blobHolding(sb: Sandbox, bytes: Uint8Array): Promise<string> {
  const found: string[] = [];
  for (const path of await sb.blobs()) {
    const data = await Deno.readFile(path);
    if (data.length === bytes.length && data.every((b, i) => b === bytes[i])) found.push(path);
  }
  assertEquals(found.length, 1, "blob files holding the block");
  return found[0];
}

/** Flips the bits of one byte of a file in place. */
async function flipByte(path: string, offset: number): Promise<void> {
  const data = await Deno.readFile(path);
  data[offset] ^= 0xff;
  await Deno.writeFile(path, data);
}

/** Requires every block of `restored` except those in `skip` to equal the image's block. */
async function assertBlocksEqual(restored: string, image: Uint8Array, skip: number[], message: string) {
  const data = await Deno.readFile(restored);
  assertEquals(data.length, image.length, `${message}: restored size`);
  for (let id = 0; id * BS < image.length; id++) {
    if (skip.includes(id)) continue;
    const want = block(image, id);
    const got = block(data, id);
    assert(got.every((b, i) => b === want[i]), `${message}: block ${id} of ${restored} differs from the source`);
  }
}

/** The lines of a stream after dropping progress lines (without the final empty string). */
function lines(text: string): string[] {
  const all = stripProgress(text).split("\n");
  if (all.at(-1) === "") all.pop();
  return all;
}

/**
 * The INFO lines of an invalidation: the block line, then one line per affected version. Reads the
 * order of the affected versions from the output and requires them to be exactly `versions`.
 */
function invalidationLines(result: RunResult, blobUid: string, checksum: string, versions: string[]): string {
  const start = `Marked block invalid (UID ${blobUid}, Checksum ${checksum}. Affected versions: `;
  const line = lines(result.stdout).find((l) => l.includes(start));
  assert(line, `no "Marked block invalid" line for ${blobUid}:\n${describeRun(result)}`);
  const affected = line.slice(line.indexOf(start) + start.length).split(", ");
  assertEquals([...affected].sort(), [...versions].sort(), "affected versions");
  return info(start + affected.join(", ")) +
    affected.map((uid) => info(`Marked version invalid (UID ${uid})`)).join("");
}

/** `valid` as `ls` shows it for each of `uids`, in that order (all versions must be among them). */
async function validity(sb: Sandbox, ...uids: string[]): Promise<string[]> {
  const rows = await sb.versions();
  assertEquals(rows.map((v) => v.uid).sort(), [...uids].sort(), "listed versions");
  return uids.map((uid) => rows.find((v) => v.uid === uid)!.valid);
}

/**
 * Image A: 8 blocks, block 3 zero (sparse), block 5 a copy of block 1 (one blob for both). Image B is A with
 * a different block 6, so that backups of both share the blobs of blocks 0, 1, 2, 4 and 7 through dedup.
 */
function images(seed: number): { a: Uint8Array; b: Uint8Array } {
  const rng = new Rng(seed);
  const a = buildImage(rng, BS, ["random", "random", "random", "zero", "random", { copyOf: 1 }, "random", "random"]);
  const b = a.slice();
  rng.fill(b.subarray(6 * BS, 7 * BS));
  return { a, b };
}

/** Backs up both images (A as `vm-a`, then B as `vm-b`); 6 + 1 blobs. */
async function twoSharingVersions(sb: Sandbox, seed: number) {
  const { a, b } = images(seed);
  await Deno.writeFile(sb.path("a.img"), a);
  await Deno.writeFile(sb.path("b.img"), b);
  const uidA = await sb.backup([sb.url("a.img"), "vm-a"]);
  const uidB = await sb.backup([sb.url("b.img"), "vm-b"]);
  assertEquals(await sb.blobCount(), 7, "blobs of A (6 distinct data blocks) and B (one more)");
  return { a, b, uidA, uidB };
}

Deno.test("scrub of an intact version marks it valid; -p 0 checks nothing; -p abc is refused", async () => {
  await withSandbox({ blockSize: BS }, async (sb) => {
    const { a } = images(11);
    await Deno.writeFile(sb.path("a.img"), a);
    const uid = await sb.backup([sb.url("a.img"), "vm-a"]);

    const args = ["scrub", uid];
    expectRun(await sb.run(args), {
      code: 0,
      stderr: "",
      stdout: sb.commandLine(args) + info(`Marked version valid: ${uid}`) + COMPLETE,
    }, "clean scrub");

    // -p 0 reads no blob: a damaged one goes unnoticed and nothing is invalidated.
    const path = await blobHolding(sb, block(a, 2));
    await flipByte(path, 100);
    const none = ["scrub", "-p", "0", uid];
    expectRun(await sb.run(none), {
      code: 0,
      stderr: "",
      stdout: sb.commandLine(none) + info(`Marked version valid: ${uid}`) + COMPLETE,
    }, "scrub -p 0");
    assertEquals((await sb.version(uid)).valid, "1", "valid after scrub -p 0");

    const bad = ["scrub", "-p", "abc", uid];
    expectRun(await sb.run(bad), {
      code: 100,
      stdout: sb.commandLine(bad),
      stderr: error("invalid literal for int() with base 10: 'abc'") + FAILED,
    }, "scrub -p abc");
    assertEquals((await sb.version(uid)).valid, "1", "valid after the refused scrub");
  });
});

Deno.test("a flipped byte: scrub invalidates every version sharing the blob; new backups write a fresh blob; a repaired blob re-validates", async () => {
  await withSandbox({ blockSize: BS }, async (sb) => {
    const { a, uidA, uidB } = await twoSharingVersions(sb, 12);
    const path = await blobHolding(sb, block(a, 2));
    const blobUid = uidOf(path);
    const saved = await Deno.readFile(path);
    await flipByte(path, 1234);
    const damaged = await Deno.readFile(path);

    const args = ["scrub", uidA];
    const result = await sb.run(args);
    expectRun(result, {
      code: 20,
      stdout: sb.commandLine(args) + invalidationLines(result, blobUid, sha512(saved), [uidA, uidB]),
      stderr: error(
        `Checksum mismatch during scrub for block 2 (UID ${blobUid}) (is: ${sha512(damaged)} ` +
          `should-be: ${sha512(saved)}).`,
      ) + error(`Marked version invalid because it has errors: ${uidA}`),
    }, "scrub of the damaged version");
    assertEquals(await validity(sb, uidA, uidB), ["0", "0"], "ls valid after the scrub");

    // An invalid version cannot be a differential base.
    const from = ["backup", "-f", uidA, sb.url("a.img"), "vm-a"];
    expectRun(await sb.run(from), {
      code: 100,
      stdout: sb.commandLine(from),
      stderr: error("You cannot base on an invalid version.") + FAILED,
    }, "backup -f of an invalid version");
    assertEquals((await sb.versions()).length, 2, "the refused backup created no version");

    // The same content again: every block deduplicates except the one whose blob is bad.
    const blobsBefore = await sb.blobCount();
    const uidC = await sb.backup([sb.url("a.img"), "vm-a"]);
    assertEquals(await sb.blobCount(), blobsBefore + 1, "a fresh blob for the invalidated content");
    assertEquals((await sb.version(uidC)).valid, "1", "the new version is valid");
    await sb.restore(uidC, "c.img");
    await assertBlocksEqual(sb.path("c.img"), a, [], "restore of the new version");
    const args2 = ["scrub", uidC];
    expectRun(await sb.run(args2), {
      code: 0,
      stderr: "",
      stdout: sb.commandLine(args2) + info(`Marked version valid: ${uidC}`) + COMPLETE,
    }, "scrub of the new version");

    // Put the good bytes back: a full scrub finds nothing wrong and marks A valid again (B stays as it was).
    await Deno.writeFile(path, saved);
    expectRun(await sb.run(args), {
      code: 0,
      stderr: "",
      stdout: sb.commandLine(args) + info(`Marked version valid: ${uidA}`) + COMPLETE,
    }, "scrub after the repair");
    assertEquals(await validity(sb, uidA, uidB, uidC), ["1", "0", "1"], "ls valid after the repair");
    const argsB = ["scrub", uidB];
    expectRun(await sb.run(argsB), {
      code: 0,
      stderr: "",
      stdout: sb.commandLine(argsB) + info(`Marked version valid: ${uidB}`) + COMPLETE,
    }, "scrub of B after the repair");
    assertEquals(await validity(sb, uidA, uidB, uidC), ["1", "1", "1"], "ls valid after scrubbing B");
  });
});

Deno.test("restore of a version with a corrupt blob writes the stored bytes, reports the mismatch and exits 6", async () => {
  await withSandbox({ blockSize: BS }, async (sb) => {
    const { a, uidA, uidB } = await twoSharingVersions(sb, 13);
    const path = await blobHolding(sb, block(a, 4));
    const blobUid = uidOf(path);
    const good = sha512(block(a, 4));
    await flipByte(path, 0);
    const damaged = await Deno.readFile(path);

    const args = ["restore", uidA, sb.url("restored.img")];
    const result = await sb.run(args);
    // Unlike backy2, which exits 0 here, a restore that wrote a damaged block fails.
    expectRun(result, {
      code: 6,
      stdout: sb.commandLine(args) + invalidationLines(result, blobUid, good, [uidA, uidB]),
      stderr: error(
        `Checksum mismatch during restore for block 4 (is: ${sha512(damaged)} should-be: ${good}, ` +
          `block-valid: 1). Block restored is invalid. Continuing.`,
      ),
    }, "restore of the damaged version");
    await assertBlocksEqual(sb.path("restored.img"), a, [4], "restore of the damaged version");
    const restored = await Deno.readFile(sb.path("restored.img"));
    assertEquals(sha512(block(restored, 4)), sha512(damaged), "block 4 holds the stored (damaged) bytes");
    // A restore invalidates like a scrub: the blob, with every version using it.
    assertEquals(await validity(sb, uidA, uidB), ["0", "0"], "ls valid after the restore");

    // Restoring again reports the block as already invalid.
    const again = ["restore", uidA, sb.url("again.img")];
    const second = await sb.run(again);
    expectRun(second, {
      code: 6,
      stderr: error(
        `Checksum mismatch during restore for block 4 (is: ${sha512(damaged)} should-be: ${good}, ` +
          `block-valid: 0). Block restored is invalid. Continuing.`,
      ),
    }, "second restore");
  });
});

Deno.test("a truncated blob: scrub reports its wrong size", async () => {
  await withSandbox({ blockSize: BS }, async (sb) => {
    const { a, uidA, uidB } = await twoSharingVersions(sb, 14);
    const path = await blobHolding(sb, block(a, 7));
    const blobUid = uidOf(path);
    await Deno.truncate(path, 1000);

    const args = ["scrub", uidB];
    const result = await sb.run(args);
    expectRun(result, {
      code: 20,
      stdout: sb.commandLine(args) + invalidationLines(result, blobUid, sha512(block(a, 7)), [uidA, uidB]),
      stderr: error(`Blob has wrong size: ${blobUid} is: 1000 should be: ${BS}`) +
        error(`Marked version invalid because it has errors: ${uidB}`),
    }, "scrub with a truncated blob");
    assertEquals(await validity(sb, uidA, uidB), ["0", "0"], "ls valid after the scrub");
  });
});

Deno.test("a deleted blob: restore writes every readable block and exits 6; scrub reports the missing blob", async () => {
  await withSandbox({ blockSize: BS }, async (sb) => {
    const { a, uidA, uidB } = await twoSharingVersions(sb, 15);
    const path = await blobHolding(sb, block(a, 0));
    const blobUid = uidOf(path);
    await Deno.remove(path);

    const restoreArgs = ["restore", uidA, sb.url("restored.img")];
    const restored = await sb.run(restoreArgs);
    expectRun(restored, { code: 6 }, "restore with a missing blob");
    const errors = lines(restored.stderr);
    assertEquals(errors.length, 1, `one error line:\n${describeRun(restored)}`);
    assertMatch(errors[0], /^ {3}ERROR: \[backy2\.logging\] Exception during reading from the data backend: \S/);
    assert(errors[0].includes(blobUid), `the error names the missing blob ${blobUid}: ${errors[0]}`);
    assert(!restored.stdout.includes("Backy complete."), "no 'Backy complete.' after exit 6");
    await assertBlocksEqual(sb.path("restored.img"), a, [0], "restore with a missing blob");

    const args = ["scrub", uidB];
    const result = await sb.run(args);
    expectRun(result, {
      code: 20,
      stdout: sb.commandLine(args) + invalidationLines(result, blobUid, sha512(block(a, 0)), [uidA, uidB]),
    }, "scrub with a missing blob");
    const scrubErrors = lines(result.stderr);
    assertEquals(scrubErrors.length, 3, `three error lines:\n${describeRun(result)}`);
    assertMatch(scrubErrors[0], /^ {3}ERROR: \[backy2\.logging\] Exception during reading from the data backend: \S/);
    assert(scrubErrors[0].includes(blobUid), `the exception names ${blobUid}`);
    assertMatch(scrubErrors[1], /^ {3}ERROR: \[backy2\.logging\] Blob not found: \S/);
    assert(scrubErrors[1].includes(blobUid), `'Blob not found' names ${blobUid}`);
    assertEquals(scrubErrors[2] + "\n", error(`Marked version invalid because it has errors: ${uidB}`));
    assertEquals(await validity(sb, uidA, uidB), ["0", "0"], "ls valid after the scrub");
  });
});

Deno.test("several damaged blobs in one version: each is reported once and every other blob is still checked", async () => {
  await withSandbox({ blockSize: BS }, async (sb) => {
    // 48 blocks: block 40 shares block 0's blob, block 41 shares block 20's blob, block 44 is zero.
    const special: Record<number, BlockKind> = { 40: { copyOf: 0 }, 41: { copyOf: 20 }, 44: "zero" };
    const kinds = Array.from({ length: 48 }, (_, id): BlockKind => special[id] ?? "random");
    const image = buildImage(new Rng(16), BS, kinds);
    await Deno.writeFile(sb.path("disk.img"), image);
    const uid = await sb.backup([sb.url("disk.img"), "vm"]);
    assertEquals(await sb.blobCount(), 45, "distinct data blocks");

    // Deleted: blocks 0 (shared with 40) and 47; corrupt: 20 (shared with 41); truncated: 30.
    const missing = [uidOf(await blobHolding(sb, block(image, 0))), uidOf(await blobHolding(sb, block(image, 47)))];
    for (const id of [0, 47]) await Deno.remove(await blobHolding(sb, block(image, id)));
    const corrupt = await blobHolding(sb, block(image, 20));
    await flipByte(corrupt, 4095);
    const truncated = await blobHolding(sb, block(image, 30));
    await Deno.truncate(truncated, 4000);

    const child = sb.spawn(["-v", "scrub", uid]);
    const timeout = setTimeout(() => child.kill("SIGKILL"), 30_000);
    const output = await child.output();
    clearTimeout(timeout);
    const result: RunResult = {
      code: output.code,
      signal: output.signal,
      stdout: new TextDecoder().decode(output.stdout),
      stderr: new TextDecoder().decode(output.stderr),
    };
    expectRun(result, { code: 20 }, "scrub with four damaged blobs (a hang is killed after 30 s)");

    const errors = lines(result.stderr);
    const count = (pattern: RegExp) => errors.filter((l) => pattern.test(l)).length;
    assertEquals(count(/Exception during reading from the data backend: /), 2, "exceptions (one per missing blob)");
    for (const blobUid of missing) {
      assertEquals(count(new RegExp(`Blob not found: .*${blobUid}`)), 1, `'Blob not found' for ${blobUid}`);
    }
    assertEquals(count(/Checksum mismatch during scrub for block 20 \(UID /), 1, "checksum mismatch of block 20");
    assertEquals(count(/Checksum mismatch/), 1, "checksum mismatches");
    assertEquals(
      count(new RegExp(`Blob has wrong size: ${uidOf(truncated)} is: 4000 should be: ${BS}$`)),
      1,
      "wrong size of block 30's blob",
    );
    assertEquals(errors.at(-1) + "\n", error(`Marked version invalid because it has errors: ${uid}`), "last line");
    assertEquals(errors.length, 7, `error lines:\n${describeRun(result)}`);

    const out = lines(result.stdout);
    assertEquals(out.filter((l) => l.includes("Marked block invalid (UID ")).length, 4, "invalidated blobs");
    // Every other distinct blob (45 - 4) was read and verified; the sparse block was skipped.
    const ok = out.filter((l) => /^ {3}DEBUG: \[backy2\.logging\] Scrub of block \d+ \(UID \S+\) ok\.$/.test(l));
    assertEquals(ok.length, 41, "blocks verified ok");
    assert(out.some((l) => l.includes("Scrub of block 46 (UID ") && l.endsWith(") ok.")), "block 46 verified");
    assert(out.some((l) => l.endsWith("Scrub of block 44 (UID None) skipped (sparse).")), "sparse block skipped");
    assertEquals((await sb.version(uid)).valid, "0", "ls valid");
  });
});

Deno.test("scrub -s compares with the source: an unchanged source passes, a changed one is reported but invalidates nothing", async () => {
  await withSandbox({ blockSize: BS }, async (sb) => {
    const { a } = images(17);
    await Deno.writeFile(sb.path("a.img"), a);
    const uid = await sb.backup([sb.url("a.img"), "vm-a"]);
    const blobUid = uidOf(await blobHolding(sb, block(a, 6)));

    const args = ["scrub", "-s", sb.url("a.img"), uid];
    expectRun(await sb.run(args), {
      code: 0,
      stderr: "",
      stdout: sb.commandLine(args) + info(`Marked version valid: ${uid}`) + COMPLETE,
    }, "deep scrub against the unchanged source");

    const changed = a.slice();
    changed[6 * BS + 17] ^= 0x01;
    await Deno.writeFile(sb.path("a.img"), changed);
    const result = await sb.run(args);
    expectRun(result, { code: 20, stdout: sb.commandLine(args) }, "deep scrub against a changed source");
    const errors = lines(result.stderr);
    assertEquals(
      errors[0] + "\n",
      error(
        `Source data has changed for block 6 (UID ${blobUid}) (is: ${sha512(block(changed, 6))} should-be: ` +
          `${sha512(block(a, 6))}). NOT setting this block invalid, because the source looks wrong.`,
      ),
      "first error line",
    );
    assertEquals(errors.length, 2, `two error lines:\n${describeRun(result)}`);
    assert(errors[1].includes(uid), `the closing error names the version: ${errors[1]}`);
    assertEquals((await sb.version(uid)).valid, "1", "the version stays valid");

    const plain = ["scrub", uid];
    expectRun(await sb.run(plain), {
      code: 0,
      stderr: "",
      stdout: sb.commandLine(plain) + info(`Marked version valid: ${uid}`) + COMPLETE,
    }, "plain scrub after the deep scrub");
  });
});

Deno.test("scrub -s names the checksum of source data that turned to zeros", async () => {
  await withSandbox({ blockSize: BS }, async (sb) => {
    const { a } = images(18);
    await Deno.writeFile(sb.path("a.img"), a);
    const uid = await sb.backup([sb.url("a.img"), "vm-a"]);
    const blobUid = uidOf(await blobHolding(sb, block(a, 2)));
    const zeroed = a.slice();
    zeroed.fill(0, 2 * BS, 3 * BS);
    await Deno.writeFile(sb.path("a.img"), zeroed);
    const result = await sb.run(["scrub", "-s", sb.url("a.img"), uid]);
    expectRun(result, { code: 20 });
    assertEquals(
      lines(result.stderr)[0] + "\n",
      error(
        `Source data has changed for block 2 (UID ${blobUid}) (is: ${sha512(new Uint8Array(BS))} should-be: ` +
          `${sha512(block(a, 2))}). NOT setting this block invalid, because the source looks wrong.`,
      ),
    );
  });
});

Deno.test("scrub -s with a source of another size says so in one line, exits 20 and invalidates nothing", async () => {
  await withSandbox({ blockSize: BS }, async (sb) => {
    const { a } = images(19);
    await Deno.writeFile(sb.path("a.img"), a);
    const uid = await sb.backup([sb.url("a.img"), "vm-a"]);
    await Deno.writeFile(sb.path("short.img"), a.subarray(0, 3 * BS + 10));
    const args = ["scrub", "-s", sb.url("short.img"), uid];
    expectRun(await sb.run(args), {
      code: 20,
      stdout: sb.commandLine(args),
      stderr: error(
        `Source ${sb.url("short.img")} has ${3 * BS + 10} bytes, but version ${uid} has ${a.length}: ` +
          "not comparing them; nothing was checked.",
      ),
    });
    assertEquals((await sb.version(uid)).valid, "1", "the version stays valid");
  });
});
