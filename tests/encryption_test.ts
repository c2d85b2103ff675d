/**
 * CLI tests of encryption version 1: backups that write encrypted blobs, reading them under
 * `encryption_version: 0` and deduplicating onto them (never without the key), `rekey` (right and wrong old
 * keys, no key version configured), `migrate-encryption` (complete, reusing blobs, with a missing blob), and
 * the clear failures of a wrong key and of a damaged blob.
 */
import { Buffer } from "node:buffer";
import { createHash } from "node:crypto";
import {
  assert,
  assertEquals,
  assertFileBytes,
  buildImage,
  COMPLETE,
  error,
  expectRun,
  info,
  Rng,
  type Sandbox,
  stripProgress,
  withSandbox,
} from "./helpers.ts";

const BS = 4096;
const KEY = "3ddd95ed478d194478e27a27a7c4eed19430363e827e1702fc181258cd2e088d";
const NEW_KEY = "8f1e0c2b7a6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f";
const WRONG_KEY = "0000000000000000000000000000000000000000000000000000000000000001";
const INTEGRITY = /Integrity Check Failed: 0x[0-9a-f]{1,16} \(expected 0xa6a6a6a6a6a6a6a6\)/;

/** 8 blocks, the last one partial: zeros at 1 and 6, block 3 repeats block 0, so 5 distinct stored blocks. */
function sampleImage(seed = 7): Uint8Array {
  const kinds = ["random", "zero", "random", { copyOf: 0 }, "random", "random", "zero", "random"] as const;
  return buildImage(new Rng(seed), BS, [...kinds], 8 * BS - 1000);
}

/** Rewrites the sandbox config's encryption settings (a key of undefined removes the key line). */
async function setEncryption(sb: Sandbox, version: number, key?: string): Promise<void> {
  const lines = (await Deno.readTextFile(sb.config)).split("\n")
    .filter((line) => !line.startsWith("encryption_version:") && !line.startsWith("encryption_key:"));
  const at = lines.indexOf("[DEFAULTS]") + 1;
  lines.splice(at, 0, `encryption_version: ${version}`, ...(key === undefined ? [] : [`encryption_key: ${key}`]));
  await Deno.writeTextFile(sb.config, lines.join("\n"));
}

/** Writes the sample image and backs it up as `vm`; returns the image and the version uid. */
async function backUpSample(sb: Sandbox, name = "vm"): Promise<{ image: Uint8Array; uid: string }> {
  const image = sampleImage();
  await Deno.writeFile(sb.path("disk.img"), image);
  return { image, uid: await sb.backup([sb.url("disk.img"), name]) };
}

/** Every blob file with the sha256 of its bytes. */
async function blobDigests(sb: Sandbox): Promise<Map<string, string>> {
  const digests = new Map<string, string>();
  for (const path of await sb.blobs()) {
    digests.set(path, createHash("sha256").update(await Deno.readFile(path)).digest("hex"));
  }
  return digests;
}

async function restoreMatches(sb: Sandbox, uid: string, image: Uint8Array, target = "restored.img"): Promise<void> {
  await sb.restore(uid, target, ["-f"]);
  await assertFileBytes(sb.path(target), image, `restore of ${uid}`);
}

/** Requires that no blob holds a block of the image in plain text (any 64 bytes of a stored block). */
async function assertNoPlainBlocks(sb: Sandbox, image: Uint8Array): Promise<void> {
  for (const path of await sb.blobs()) {
    const blob = Buffer.from(await Deno.readFile(path));
    for (let offset = 0; offset < image.length; offset += BS) {
      const sample = image.subarray(offset + 100, offset + 164);
      if (sample.every((b) => b === 0)) continue;
      assert(blob.indexOf(sample) < 0, `${path} contains plain data of the block at ${offset}`);
    }
  }
}

Deno.test("encryption_version 1: blobs hold no plain data, restore is byte-identical and scrub passes", async () => {
  await withSandbox({}, async (sb) => {
    await setEncryption(sb, 1, KEY);
    const { image, uid } = await backUpSample(sb);
    assertEquals(await sb.blobCount(), 5, "one blob per distinct stored block");
    await assertNoPlainBlocks(sb, image);
    for (const path of await sb.blobs()) {
      const size = (await Deno.stat(path)).size;
      // Random data does not compress: 32 bytes of tag and nonce, a 10-byte zstd frame header, the data raw.
      assert(size === 4096 + 42 || size === 3096 + 42, `${path} has ${size} bytes`);
    }
    await restoreMatches(sb, uid, image);
    expectRun(await sb.run(["scrub", uid]), { code: 0, stderr: "" });
  });
});

Deno.test("with encryption_version 0 and the key kept, v1 versions restore and backups dedup onto v1 blobs", async () => {
  await withSandbox({}, async (sb) => {
    await setEncryption(sb, 1, KEY);
    const { image, uid: v1 } = await backUpSample(sb);
    await setEncryption(sb, 0, KEY);
    await restoreMatches(sb, v1, image);
    expectRun(await sb.run(["scrub", v1]), { code: 0, stderr: "" });
    const v0 = await sb.backup([sb.url("disk.img"), "vm"]);
    assertEquals(await sb.blobCount(), 5, "the v0 backup reused the 5 encrypted blobs");
    await restoreMatches(sb, v0, image, "v0.img");

    // Without a key, version-1 blobs cannot be read, and a backup does not point at them.
    await setEncryption(sb, 0);
    const result = await sb.run(["restore", "-f", v1, sb.url("nokey.img")]);
    expectRun(result, { code: 100 });
    assert(result.stderr.includes("You must provide a 32-byte long encryption-key in your configuration."));
    const keyless = await sb.backup([sb.url("disk.img"), "vm"]);
    assertEquals(await sb.blobCount(), 10, "the backup without a key wrote its own 5 blobs");
    await restoreMatches(sb, keyless, image, "keyless.img");
  });
});

Deno.test("rekey with the old key rewraps the data keys: blobs unchanged, restores work with the new key", async () => {
  await withSandbox({}, async (sb) => {
    const { image } = await backUpSample(sb);
    await setEncryption(sb, 1, KEY);
    const v1 = await sb.backup([sb.url("disk.img"), "vm"]);
    const before = await blobDigests(sb);
    await setEncryption(sb, 1, NEW_KEY);
    const args = ["rekey", KEY];
    const summary = "5 rekeyed, 1 sparse/ignored, 5 unable to rekey (wrong encryption version).";
    expectRun(await sb.run(args), {
      code: 0,
      stderr: "",
      stdout: sb.commandLine(args) + info(`Rekeying successful: ${summary}`) + COMPLETE,
    });
    assertEquals([...await blobDigests(sb)], [...before], "blob files");
    await restoreMatches(sb, v1, image);
    expectRun(await sb.run(["scrub", v1]), { code: 0, stderr: "" });

    // The old key no longer works.
    await setEncryption(sb, 1, KEY);
    const old = await sb.run(["restore", "-f", v1, sb.url("old.img")]);
    expectRun(old, { code: 6 });
    assert(INTEGRITY.test(old.stderr), old.stderr);
  });
});

Deno.test("rekey with a wrong old key fails before changing anything", async () => {
  await withSandbox({}, async (sb) => {
    await setEncryption(sb, 1, KEY);
    const { image, uid } = await backUpSample(sb);
    const result = await sb.run(["rekey", WRONG_KEY]);
    expectRun(result, { code: 100 });
    assert(/Rekeying failed: OLDKEY does not unwrap the key of blob \w{32} \(/.test(result.stderr), result.stderr);
    assert(INTEGRITY.test(result.stderr) && result.stderr.includes("Nothing was changed."), result.stderr);
    await restoreMatches(sb, uid, image);

    const badHex = await sb.run(["rekey", "not-a-key"]);
    expectRun(badHex, { code: 100 });
    assert(badHex.stderr.includes("OLDKEY must be 64 hexadecimal characters"), badHex.stderr);

    await setEncryption(sb, 0, KEY);
    const v0 = await sb.run(["rekey", KEY]);
    expectRun(v0, { code: 100 });
    assert(v0.stderr.includes("set encryption_version: 1 and the new encryption_key"), v0.stderr);
    await restoreMatches(sb, uid, image);
  });
});

/** The uid in `Migrated version OLD to encryption version V. New version: NEW.`, checking the whole output. */
function migratedUid(sb: Sandbox, stdout: string, old: string, version: number): string {
  const match = new RegExp(
    `Migrated version ${old} to encryption version ${version}\\. New version: ([0-9a-f-]{36})\\.`,
  ).exec(stdout);
  assert(match, stdout);
  const line = `Migrated version ${old} to encryption version ${version}. New version: ${match[1]}.`;
  assertEquals(stdout, sb.commandLine(["migrate-encryption", old]) + info(line) + COMPLETE);
  return match[1];
}

Deno.test("migrate-encryption turns a v0 version into a v1 version that restores without the old blobs", async () => {
  await withSandbox({}, async (sb) => {
    const { image, uid: old } = await backUpSample(sb);
    expectRun(await sb.run(["expire", old, "2031-02-03 04:05:06"]), { code: 0 });
    const plainBlobs = new Set(await sb.blobs());
    await setEncryption(sb, 1, KEY);
    const result = await sb.run(["migrate-encryption", old]);
    expectRun(result, { code: 0, stderr: "" });
    const migrated = migratedUid(sb, result.stdout, old, 1);
    const row = await sb.version(migrated);
    const oldRow = await sb.version(old);
    assertEquals(
      { ...row, date: "", uid: "" },
      { ...oldRow, date: "", uid: "", tags: `${oldRow.tags},migrated-encryption-to-1` },
    );
    assertEquals(row.valid, "1");
    assertEquals(await sb.blobCount(), 10, "5 new v1 blobs beside the 5 v0 ones");
    await restoreMatches(sb, migrated, image);

    // The new version needs none of the old blobs: remove the old version and clean up.
    expectRun(await sb.run(["rm", "-f", old]), { code: 0 });
    expectRun(await sb.run(["cleanup", "--dangerous-force"]), { code: 0 });
    const left = await sb.blobs();
    assertEquals(left.length, 5);
    assert(left.every((path) => !plainBlobs.has(path)), "only the new blobs are left");
    await assertNoPlainBlocks(sb, image);
    await restoreMatches(sb, migrated, image, "after-cleanup.img");
    expectRun(await sb.run(["scrub", migrated]), { code: 0, stderr: "" });
  });
});

Deno.test("migrate-encryption reuses existing blobs of the target version", async () => {
  await withSandbox({}, async (sb) => {
    const { image, uid: first } = await backUpSample(sb, "a");
    const second = await sb.backup([sb.url("disk.img"), "b"]);
    await setEncryption(sb, 1, KEY);
    const one = migratedUid(sb, (await sb.run(["migrate-encryption", first])).stdout, first, 1);
    assertEquals(await sb.blobCount(), 10);
    const two = migratedUid(sb, (await sb.run(["migrate-encryption", second])).stdout, second, 1);
    assertEquals(await sb.blobCount(), 10, "the second migration wrote nothing new");
    // Migrating a version that is already at the target version copies it.
    const three = migratedUid(sb, (await sb.run(["migrate-encryption", one])).stdout, one, 1);
    assertEquals(await sb.blobCount(), 10);
    for (const uid of [one, two, three]) await restoreMatches(sb, uid, image, `${uid}.img`);
  });
});

Deno.test("migrate-encryption with a missing blob invalidates it and leaves the new version invalid", async () => {
  await withSandbox({}, async (sb) => {
    const { uid: old } = await backUpSample(sb);
    const blobs = await sb.blobs();
    const lost = blobs[0];
    const lostUid = lost.slice(lost.lastIndexOf("/") + 1, -".blob".length);
    await Deno.remove(lost);
    await setEncryption(sb, 1, KEY);
    const result = await sb.run(["migrate-encryption", old]);
    expectRun(result, { code: 100 });
    assert(result.stderr.includes(`Key not found: ${lostUid}. Marking block as invalid.`), result.stderr);
    assert(/Migration of version \S+ to encryption version 1 is incomplete: [12] blocks could not/.test(result.stderr));
    assert(result.stdout.includes(`Marked block invalid (UID ${lostUid}, Checksum `), result.stdout);
    const versions = await sb.versions();
    assertEquals(versions.length, 2);
    const migrated = versions.find((v) => v.uid !== old)!;
    assertEquals([migrated.valid, migrated.tags], ["0", "b_daily,b_monthly,b_weekly,migrated-encryption-to-1"]);
    assertEquals((await sb.version(old)).valid, "0", "the old version shares the invalid block");
    assertEquals(await sb.blobCount(), blobs.length - 1 + 4, "the four readable blobs were migrated");
  });
});

Deno.test("a wrong encryption_key fails restore (exit 6) and scrub (exit 100) with a clear error and invalidates nothing", async () => {
  await withSandbox({}, async (sb) => {
    await setEncryption(sb, 1, KEY);
    const { image, uid } = await backUpSample(sb);
    await setEncryption(sb, 1, WRONG_KEY);
    const runs: [string[], number][] = [[["restore", uid, sb.url("wrong.img")], 6], [["scrub", uid], 100]];
    for (const [args, code] of runs) {
      const result = await sb.run(args);
      expectRun(result, { code });
      assert(/Cannot decrypt blob \w{32}: /.test(result.stderr) && INTEGRITY.test(result.stderr), result.stderr);
      assert(!result.stdout.includes("Marked block invalid"), result.stdout);
      if (code === 6) {
        assertEquals(stripProgress(result.stderr).split("\n").length, 2, `one line:\n${result.stderr}`);
        const start = error("Exception during reading from the data backend: Cannot decrypt blob").trimEnd();
        assert(result.stderr.startsWith(start), result.stderr);
      }
    }
    await setEncryption(sb, 1, KEY);
    assertEquals((await sb.version(uid)).valid, "1");
    await restoreMatches(sb, uid, image);
  });
});

Deno.test("a damaged v1 blob is reported and invalidated by restore (exit 6) and scrub (exit 20)", async () => {
  await withSandbox({}, async (sb) => {
    await setEncryption(sb, 1, KEY);
    const { uid } = await backUpSample(sb);
    const victim = (await sb.blobs())[0];
    const bytes = await Deno.readFile(victim);
    bytes[100] ^= 0xff;
    await Deno.writeFile(victim, bytes);
    const restored = await sb.run(["restore", uid, sb.url("damaged.img")]);
    expectRun(restored, { code: 6 });
    assert(restored.stderr.includes("is damaged: it fails GCM authentication."), restored.stderr);
    assertEquals((await sb.version(uid)).valid, "0");
    expectRun(await sb.run(["scrub", uid]), { code: 20 });
  });
});
