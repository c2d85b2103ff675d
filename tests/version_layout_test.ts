/**
 * CLI tests of per-version layouts: every version keeps the block size and hash function it was made with,
 * so changing `block_size` or `hash_function` in the configuration afterwards never restores a wrong image,
 * never makes a scrub fail or invalidate shared blobs, and continues or bases backups correctly.
 */
import { DatabaseSync } from "node:sqlite";
import { openSqliteCatalog } from "../src/catalog/sqlite/catalog.ts";
import {
  assert,
  assertEquals,
  assertMatch,
  assertSameFile,
  buildImage,
  expectRun,
  Rng,
  type Sandbox,
  testSeed,
  withSandbox,
} from "./helpers.ts";

const SMALL = 4096;
const LARGE = 16384;

/** Rewrites the sandbox's config with another block size and/or hash function. */
async function reconfigure(sb: Sandbox, change: { blockSize?: number; hashFunction?: string }): Promise<void> {
  let text = await Deno.readTextFile(sb.config);
  if (change.blockSize) text = text.replace(/^block_size: \d+$/m, `block_size: ${change.blockSize}`);
  if (change.hashFunction) text = text.replace(/^hash_function: .*$/m, `hash_function: ${change.hashFunction}`);
  await Deno.writeTextFile(sb.config, text);
}

/** A 10-block image (at the small block size) with random, repeated and zero blocks and a short tail. */
async function writeImage(sb: Sandbox, name: string, seed: number): Promise<void> {
  const kinds = ["random", "random", "zero", { copyOf: 0 }, "random", "zero", "random", "random", "random", "random"];
  const image = buildImage(new Rng(seed), SMALL, kinds as Parameters<typeof buildImage>[2], 10 * SMALL - 123);
  await Deno.writeFile(sb.path(name), image);
}

async function scrubValid(sb: Sandbox, uid: string): Promise<void> {
  expectRun(await sb.run(["scrub", uid]), { code: 0, stderr: "" }, `scrub ${uid}`);
  assertEquals((await sb.version(uid)).valid, "1", `version ${uid} stays valid`);
}

Deno.test("a version restores and scrubs with the block size it was made with after block_size changed", async () => {
  await withSandbox({ blockSize: SMALL }, async (sb) => {
    await writeImage(sb, "disk.img", testSeed());
    const old = await sb.backup([sb.url("disk.img"), "vm"]);
    await reconfigure(sb, { blockSize: LARGE });

    await sb.restore(old, "restored.img");
    await assertSameFile(sb.path("restored.img"), sb.path("disk.img"));
    await scrubValid(sb, old);

    // A differential against a base of another block size is a full backup, and says so.
    const result = await sb.run(["-m", "backup", "-f", old, sb.url("disk.img"), "vm"]);
    expectRun(result, { code: 0, stderr: "" });
    const uid = result.stdout.split("\n")[0];
    const log = await Deno.readTextFile(sb.path("backy.log"));
    assertMatch(log, /Making a full backup instead of a differential one/);
    assertEquals((await sb.version(uid)).size, String(Math.ceil((10 * SMALL - 123) / LARGE)));
    await sb.restore(uid, "restored2.img");
    await assertSameFile(sb.path("restored2.img"), sb.path("disk.img"));
    await scrubValid(sb, uid);
    await scrubValid(sb, old);
  });
});

Deno.test("a version keeps its hash function: restore, scrub and new backups after hash_function changed", async () => {
  await withSandbox({ blockSize: SMALL }, async (sb) => {
    await writeImage(sb, "disk.img", testSeed());
    const old = await sb.backup([sb.url("disk.img"), "vm"]);
    await reconfigure(sb, { hashFunction: "blake2b" });

    await sb.restore(old, "restored.img");
    await assertSameFile(sb.path("restored.img"), sb.path("disk.img"));
    await scrubValid(sb, old);

    const differential = await sb.backup(["-f", old, sb.url("disk.img"), "vm"]);
    const fresh = await sb.backup([sb.url("disk.img"), "vm"]);
    for (const uid of [differential, fresh]) {
      await sb.restore(uid, `${uid}.img`);
      await assertSameFile(sb.path(`${uid}.img`), sb.path("disk.img"));
      await scrubValid(sb, uid);
    }
    await scrubValid(sb, old);
  });
});

Deno.test("backup -c continues a version with the block size it was started with", async () => {
  await withSandbox({ blockSize: SMALL }, async (sb) => {
    await writeImage(sb, "disk.img", testSeed());
    const size = (await Deno.stat(sb.path("disk.img"))).size;
    const catalog = openSqliteCatalog(sb.path("backy.sqlite"), { engine: "test", create: true });
    const started = await catalog.createVersion({
      name: "vm",
      snapshotName: "",
      size: Math.ceil(size / SMALL),
      sizeBytes: size,
      blockSize: SMALL,
      hashFunction: "sha512",
    });
    await catalog.close();
    await reconfigure(sb, { blockSize: LARGE });

    const result = await sb.run(["backup", "-c", started.uid, sb.url("disk.img"), "vm"]);
    expectRun(result, { code: 0, stderr: "" });
    await sb.restore(started.uid, "restored.img");
    await assertSameFile(sb.path("restored.img"), sb.path("disk.img"));
    await scrubValid(sb, started.uid);
  });
});

Deno.test("a version recorded without a layout whose blocks do not fit the configured block size is refused", async () => {
  await withSandbox({ blockSize: SMALL }, async (sb) => {
    await writeImage(sb, "disk.img", testSeed());
    const uid = await sb.backup([sb.url("disk.img"), "vm"]);
    // As a version imported from backy2 is stored: no recorded block size or hash function.
    const db = new DatabaseSync(sb.path("backy.sqlite"));
    db.prepare("UPDATE versions SET block_size = NULL, hash_function = NULL").run();
    db.close();
    await reconfigure(sb, { blockSize: LARGE });

    for (const args of [["restore", uid, sb.url("restored.img")], ["scrub", uid]]) {
      const result = await sb.run(args);
      expectRun(result, { code: 100 }, args.join(" "));
      assertMatch(result.stderr, /has 10 blocks for 40837 bytes, which does not fit the configured block_size/);
    }
    assert(!(await Deno.stat(sb.path("restored.img")).then(() => true, () => false)), "no target was written");
    assertEquals((await sb.version(uid)).valid, "1", "nothing was invalidated");

    await reconfigure(sb, { blockSize: SMALL });
    await sb.restore(uid, "restored.img");
    await assertSameFile(sb.path("restored.img"), sb.path("disk.img"));
  });
});
