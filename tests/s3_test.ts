/**
 * CLI tests of the S3 data backend against the real Ceph RADOS Gateway (see tests/s3_helpers.ts): the whole
 * cycle of backup, differential backup, restore, scrub (also against the source), rm, fast and full cleanup
 * with and without encryption; the cleanup grace period for objects no catalog references yet; a backup
 * interrupted by SIGINT and continued with `backup -c`; and a backy2 2.13.8 setup moved over: its blobs
 * uploaded flat into a bucket as backy2's S3 backend lays them out, its catalog migrated, every version
 * restored byte for byte; the catalog lost and rebuilt from the bucket's headers and page objects. The bucket is
 * inspected with curl, not with backy2's client.
 */
import {
  assert,
  assertEquals,
  assertMatch,
  assertSameFile,
  type BlockKind,
  buildImage,
  describeRun,
  expectRun,
  parseMachineRows,
  recordedBlocks,
  Rng,
  runBacky,
  type Sandbox,
  sha256File,
  spawnBacky,
  testSeed,
} from "./helpers.ts";
import {
  bucketKeys,
  committedVersionUids,
  createBucket,
  curlS3,
  type Gateway,
  gatewayOrFailingTest,
  getObject,
  metaKeys,
  putObjects,
  referencedBlobUids,
  removeBucket,
  replaceDataBackend,
  s3DataBackend,
  s3Sandbox,
} from "./s3_helpers.ts";
import { fixtureDir } from "./fixture_path.ts";

const BS = 16384;
const KEY = "3ddd95ed478d194478e27a27a7c4eed19430363e827e1702fc181258cd2e088d";
const gateway = gatewayOrFailingTest("s3_test");

/** A sandbox on a fresh bucket; both are removed afterwards. */
async function withBucket(
  label: string,
  extra: string[],
  fn: (sb: Sandbox, bucket: string, gateway: Gateway) => Promise<void>,
): Promise<void> {
  const gw = gateway!;
  const bucket = await createBucket(gw, label);
  const sb = await s3Sandbox(s3DataBackend(gw, bucket, extra), { blockSize: BS });
  try {
    await fn(sb, bucket, gw);
  } finally {
    await sb.remove();
    await removeBucket(gw, bucket);
  }
}

async function useEncryption(sb: Sandbox): Promise<void> {
  const text = await Deno.readTextFile(sb.config);
  await Deno.writeTextFile(
    sb.config,
    text.replace("encryption_version: 0", `encryption_version: 1\nencryption_key: ${KEY}`),
  );
}

async function ok(sb: Sandbox, args: string[]): Promise<string> {
  const result = await sb.run(args);
  expectRun(result, { code: 0 }, `backy2 ${args.join(" ")}`);
  return result.stdout;
}

/**
 * The bucket holds exactly the blobs the catalog's committed versions reference, one header per committed
 * version, and page objects.
 */
async function assertBucketMatchesCatalog(sb: Sandbox, bucket: string, when: string): Promise<string[]> {
  const keys = await bucketKeys(gateway!, bucket);
  assertEquals(keys, referencedBlobUids(sb.path("backy.sqlite")), `bucket vs catalog ${when}`);
  const versions = committedVersionUids(sb.path("backy.sqlite"));
  assertEquals(await metaKeys(gateway!, bucket), versions, `headers vs versions ${when}`);
  if (versions.length > 0) assert((await metaKeys(gateway!, bucket, "pages")).length > 0, `page objects ${when}`);
  return keys;
}

function image(rng: Rng, blocks: number): Uint8Array {
  const kinds: BlockKind[] = Array.from(
    { length: blocks },
    (_, i) => i % 11 === 5 ? "zero" : i % 13 === 7 ? { copyOf: 1 } : "random",
  );
  return buildImage(rng, BS, kinds, blocks * BS - 1000);
}

if (gateway) {
  for (const encryption of [0, 1]) {
    Deno.test(`S3: backup, differential backup, restore, scrub, rm and cleanups (encryption_version ${encryption})`, async () => {
      await withBucket(`cycle${encryption}`, ["cleanup_grace_hours: 0"], async (sb, bucket, gw) => {
        if (encryption) await useEncryption(sb);
        const rng = new Rng(testSeed());
        const first = image(rng, 40);
        await Deno.writeFile(sb.path("first.img"), first);
        await Deno.writeFile(sb.path("img"), first);
        const uid1 = await sb.backup([sb.url("img"), "vm"]);
        const keys1 = await assertBucketMatchesCatalog(sb, bucket, "after the first backup");
        assert(keys1.length > 20, `only ${keys1.length} objects`);
        if (encryption) {
          const blocks = new Set(Array.from({ length: 40 }, (_, i) => first.slice(i * BS, (i + 1) * BS).join()));
          for (const key of keys1.slice(0, 3)) {
            assert(!blocks.has((await getObject(gw, bucket, key)).join()), `object ${key} holds a plain block`);
          }
        }

        const second = first.slice();
        rng.fill(second.subarray(3 * BS, 4 * BS));
        rng.fill(second.subarray(20 * BS + 7, 20 * BS + 99));
        const grown = new Uint8Array(second.length + 2 * BS);
        grown.set(second);
        rng.fill(grown.subarray(second.length));
        await Deno.writeFile(sb.path("img"), grown);
        const uid2 = await sb.backup(["-f", uid1, sb.url("img"), "vm"]);
        await assertBucketMatchesCatalog(sb, bucket, "after the differential backup");

        await sb.restore(uid1, "r1.img");
        await assertSameFile(sb.path("r1.img"), sb.path("first.img"), "restore of the first version");
        await sb.restore(uid2, "r2.img");
        await assertSameFile(sb.path("r2.img"), sb.path("img"), "restore of the second version");
        await ok(sb, ["scrub", uid1]);
        await ok(sb, ["scrub", "-s", sb.url("img"), uid2]);

        await ok(sb, ["rm", "-f", uid1]);
        await ok(sb, ["cleanup", "--dangerous-force"]);
        const keys2 = await assertBucketMatchesCatalog(sb, bucket, "after rm and cleanup");
        assert(keys2.length < keys1.length + 4, "the blobs only the removed version used are gone");
        await sb.restore(uid2, "r2b.img");
        await assertSameFile(sb.path("r2b.img"), sb.path("img"), "restore after the cleanup");

        const stray = "0123456789strayxxxxxxxxxxxxxxxxx";
        await Deno.writeFile(sb.path("stray"), new Uint8Array(10));
        await putObjects(gw, bucket, [[stray, sb.path("stray")]]);
        const full = await ok(sb, ["cleanup", "-f"]);
        assertMatch(full, /Cleanup: Removed 1 blobs/);
        await assertBucketMatchesCatalog(sb, bucket, "after the full cleanup");
        await ok(sb, ["scrub", uid2]);

        // A key that is gone is a missing block, as a missing file is: reported, and the version invalidated.
        const lost = referencedBlobUids(sb.path("backy.sqlite"))[0];
        assertEquals((await curlS3(gw, "DELETE", `/${bucket}/${lost}`)).status, 204);
        const scrubbed = await sb.run(["scrub", uid2]);
        expectRun(scrubbed, { code: 20 }, "scrub with a missing object");
        assertMatch(
          scrubbed.stderr,
          new RegExp(`Exception during reading from the data backend: Key ${lost} not found\\.`),
        );
        assertEquals((await sb.version(uid2)).valid, "0");
      });
    });
  }

  Deno.test("S3: compressible blocks are stored zstd-compressed, restore byte-identical and scrub clean", async () => {
    await withBucket("zstd", ["cleanup_grace_hours: 0", "compression: zstd"], async (sb, bucket, gw) => {
      // Text-like blocks, each different: zstd shrinks them, so every stored object is a zstd frame.
      const words = ["backup", "block", "version", "restore", "scrub", "store", "catalog", "bucket"];
      const rng = new Rng(testSeed());
      const text = Array.from({ length: 12 * BS / 6 }, () => rng.pick(words)).join(" ");
      const data = new TextEncoder().encode(text).slice(0, 12 * BS - 321);
      await Deno.writeFile(sb.path("text.img"), data);
      const uid = await sb.backup([sb.url("text.img"), "text"]);
      const keys = await assertBucketMatchesCatalog(sb, bucket, "after the backup");
      assertEquals(keys.length, 12);
      for (const key of keys) {
        const object = await getObject(gw, bucket, key);
        assert(object.length < BS / 2, `object ${key} has ${object.length} bytes: not compressed`);
        assertEquals([...object.subarray(0, 4)], [0x28, 0xb5, 0x2f, 0xfd], `object ${key} is a zstd frame`);
      }
      await sb.restore(uid, "restored.img");
      await assertSameFile(sb.path("restored.img"), sb.path("text.img"));
      await ok(sb, ["scrub", uid]);
      assertEquals((await sb.version(uid)).valid, "1");
    });
  });

  Deno.test("S3: a full cleanup leaves unreferenced objects younger than cleanup_grace_hours alone", async () => {
    await withBucket("grace", [], async (sb, bucket, gw) => {
      await Deno.writeFile(sb.path("img"), image(new Rng(7), 8));
      await sb.backup([sb.url("img"), "vm"]);
      const referenced = await assertBucketMatchesCatalog(sb, bucket, "after the backup");
      // Another host's backup has written this blob and not recorded it yet.
      const other = "abcdef0123otherhostxxxxxxxxxxxxx";
      await Deno.writeFile(sb.path("other"), new Uint8Array(100));
      await putObjects(gw, bucket, [[other, sb.path("other")]]);
      const kept = await ok(sb, ["cleanup", "-f"]);
      assertMatch(kept, /Cleanup: Removed 0 blobs/);
      assertMatch(kept, /Cleanup: Kept 1 unreferenced blobs younger than 24 hours \(cleanup_grace_hours\)/);
      assertEquals(await bucketKeys(gw, bucket), [...referenced, other].sort());
      await replaceDataBackend(sb, s3DataBackend(gw, bucket, ["cleanup_grace_hours: 0.0002"]));
      await new Promise((resolve) => setTimeout(resolve, 1500));
      assertMatch(await ok(sb, ["cleanup", "-f"]), /Cleanup: Removed 1 blobs/);
      assertEquals(await bucketKeys(gw, bucket), referenced);
    });
  });

  Deno.test("S3: restore --from-store and rebuild-catalog bring every version back from the bucket alone", async () => {
    await withBucket("rebuild", [], async (sb, bucket, gw) => {
      const rng = new Rng(testSeed());
      await Deno.writeFile(sb.path("a.img"), image(rng, 12));
      const plain = await sb.backup(["-t", "one,two", sb.url("a.img"), "vm"]);
      await useEncryption(sb);
      await Deno.writeFile(sb.path("b.img"), image(rng, 10));
      const secret = await sb.backup(["-e", "2031-01-01", sb.url("b.img"), "db"]);
      await ok(sb, ["protect", secret]);
      assertEquals(await metaKeys(gw, bucket), [plain, secret].sort(), "one header per version");
      assertEquals((await metaKeys(gw, bucket, "pages")).length, 2, "and the page object of each");
      const before = await sb.versions();
      for (const suffix of ["", "-wal", "-shm"]) await Deno.remove(sb.path(`backy.sqlite${suffix}`)).catch(() => {});
      await ok(sb, ["restore", "--from-store", secret, sb.url("b.first")]);
      await assertSameFile(sb.path("b.first"), sb.path("b.img"), "restore --from-store without a catalog");
      assertMatch(await ok(sb, ["rebuild-catalog"]), /Rebuilt 2 of 2 versions from the data backend/);
      assertEquals(await sb.versions(), before, "-m ls after the rebuild");
      for (const [uid, source] of [[plain, "a.img"], [secret, "b.img"]]) {
        await sb.restore(uid, `${source}.restored`);
        await assertSameFile(sb.path(`${source}.restored`), sb.path(source), `restore of ${uid} after the rebuild`);
      }
      await ok(sb, ["check-store"]);
      await assertBucketMatchesCatalog(sb, bucket, "after the rebuild");
    });
  });

  Deno.test("S3: a backup interrupted by SIGINT continues with backup -c and restores", async () => {
    await withBucket("continue", ["bandwidth_write: 150000"], async (sb, bucket, gw) => {
      const source = image(new Rng(11), 96);
      await Deno.writeFile(sb.path("img"), source);
      const child = spawnBacky(["-c", sb.config, "backup", sb.url("img"), "vm"]);
      const output = child.output();
      let exited = false;
      output.finally(() => exited = true);
      const deadline = Date.now() + 60_000;
      while (await recordedBlocks(sb) === 0 && !exited && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 50));
      }
      child.kill("SIGINT");
      const interrupted = await output;
      assertEquals(interrupted.code, 130, "exit code of the interrupted backup");
      const [version] = parseMachineRows((await sb.run(["-m", "ls"])).stdout);
      assertEquals(version.valid, "0", "the interrupted version is invalid");
      await replaceDataBackend(sb, s3DataBackend(gw, bucket));
      const continued = await sb.run(["backup", "-c", version.uid, sb.url("img"), "vm"]);
      expectRun(continued, { code: 0, stderr: "" }, "backup -c");
      assertEquals((await sb.version(version.uid)).valid, "1");
      await sb.restore(version.uid, "r.img");
      await assertSameFile(sb.path("r.img"), sb.path("img"));
      await assertBucketMatchesCatalog(sb, bucket, "after the continued backup");
    });
  });

  Deno.test("S3: a backy2 2.13.8 setup moves over: flat blobs in a bucket plus the migrated catalog", async () => {
    const fixture = fixtureDir();
    const manifest = JSON.parse(await Deno.readTextFile(`${fixture}/MANIFEST.json`)) as {
      versions: { seq: number; uid: string; restore_sha256: string; contains_corrupted_blob: boolean }[];
    };
    await withBucket("migrate", [], async (sb, bucket, gw) => {
      const blobs: [string, string][] = [];
      for await (const first of Deno.readDir(`${fixture}/data`)) {
        for await (const second of Deno.readDir(`${fixture}/data/${first.name}`)) {
          const dir = `${fixture}/data/${first.name}/${second.name}`;
          for await (const file of Deno.readDir(dir)) blobs.push([file.name.split(".")[0], `${dir}/${file.name}`]);
        }
      }
      await putObjects(gw, bucket, blobs);
      const text = await Deno.readTextFile(sb.config);
      await Deno.writeTextFile(
        sb.config,
        text.replace("encryption_version: 0", `encryption_version: 1\nencryption_key: ${KEY}`)
          .replace(/block_size: \d+/, "block_size: 4096"),
      );
      const migrated = await runBacky(["-c", sb.config, "migrate-catalog", `sqlite:///${fixture}/backy.sqlite`]);
      expectRun(migrated, { code: 0, stderr: "" }, "migrate-catalog");
      for (const version of manifest.versions) {
        const result = await sb.run(["restore", version.uid, sb.url(`v${version.seq}.img`)]);
        // The fixture's one damaged blob is restored as stored, reported, and fails the restore (exit 6).
        const code = version.contains_corrupted_blob ? 6 : 0;
        assert(result.code === code, `restore of v${version.seq}\n${describeRun(result)}`);
        assertEquals(await sha256File(sb.path(`v${version.seq}.img`)), version.restore_sha256, `v${version.seq}`);
      }
    });
  });
}
