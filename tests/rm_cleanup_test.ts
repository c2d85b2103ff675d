/**
 * CLI tests of `rm` and `cleanup`: protected, too young and unknown versions are not removed; after `rm` a
 * fast cleanup deletes exactly the blobs no remaining version uses, only once the grace period (measured
 * from the `rm`) has passed or with `--dangerous-force`; a full cleanup deletes unreferenced blob files
 * (optionally only those with a uid prefix) and keeps every referenced one. The remaining versions always
 * restore byte-identically.
 */
import {
  assert,
  assertEquals,
  assertSameFile,
  buildImage,
  COMPLETE,
  error,
  escapeRegExp,
  expectRun,
  FAILED,
  info,
  Rng,
  type Sandbox,
  withSandbox,
} from "./helpers.ts";

const BS = 4096;
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** An ISO UTC time `offset` ms from now, for BACKY2_FAKE_NOW. */
function fakeNow(offset: number): Record<string, string> {
  return { BACKY2_FAKE_NOW: new Date(Date.now() + offset).toISOString() };
}

function removed(uid: string, blocks: number): string {
  return info(`Removed backup version ${uid} with ${blocks} blocks.`);
}

/** The blob files holding exactly the given blocks of `image`, sorted. */
async function blobsHolding(sb: Sandbox, image: Uint8Array, ids: number[]): Promise<string[]> {
  const wanted = ids.map((id) => image.subarray(id * BS, (id + 1) * BS));
  const found: string[] = [];
  for (const path of await sb.blobs()) {
    const data = await Deno.readFile(path);
    if (wanted.some((w) => w.length === data.length && w.every((b, i) => b === data[i]))) found.push(path);
  }
  return found.sort();
}

/** The lines of a fast cleanup that finds nothing. */
function emptyFastCleanup(): string {
  return info("Deleting false positives...") + info("Deleting false positives: done. Now deleting blocks.") +
    info("0 delete candidate blocks found.") + info("Deleted 0 blocks.");
}

/** The whole output of a fast cleanup that deletes `n` (< 1000) blobs, as a pattern. */
function fastCleanupOf(sb: Sandbox, args: string[], n: number): RegExp {
  const lines = [
    sb.commandLine(args),
    info("Deleting false positives..."),
    info("Deleting false positives: done. Now deleting blocks."),
    info(`${n} delete candidate blocks found.`),
    info(`Deleting ${n} blocks`),
  ].map(escapeRegExp).join("") +
    escapeRegExp(info(`Deleted ${n} blocks in `).slice(0, -1)) +
    `\\d+s \\(\\d+/s\\)\\. Blocks left: 0 ETA 0s\\. DB delete took \\d+s\\n` +
    escapeRegExp(info(`Deleted ${n} blocks.`) + COMPLETE);
  return new RegExp(`^${lines}$`);
}

Deno.test("rm refuses a protected version (also with -f) and an unknown one; removes an unprotected one", async () => {
  await withSandbox({ blockSize: BS }, async (sb) => {
    const image = buildImage(new Rng(31), BS, ["random", "zero", "random"]);
    await Deno.writeFile(sb.path("disk.img"), image);
    const uid = await sb.backup([sb.url("disk.img"), "vm"]);
    expectRun(await sb.run(["protect", uid]), { code: 0, stderr: "" }, "protect");

    for (const args of [["rm", uid], ["rm", "-f", uid]]) {
      expectRun(await sb.run(args), {
        code: 100,
        stdout: sb.commandLine(args),
        stderr: error(`Version ${uid} is protected. Will not delete.`) + FAILED,
      }, args.join(" "));
    }
    assertEquals((await sb.versions()).map((v) => v.uid), [uid], "the protected version is still listed");

    const unknown = "00000000-0000-1000-8000-000000000000";
    for (const args of [["rm", unknown], ["rm", "-f", unknown]]) {
      expectRun(await sb.run(args), {
        code: 100,
        stdout: sb.commandLine(args),
        stderr: error(`'Version ${unknown} not found.'`) + FAILED,
      }, args.join(" "));
    }

    expectRun(await sb.run(["unprotect", uid]), { code: 0, stderr: "" }, "unprotect");
    const rm = ["rm", uid];
    expectRun(await sb.run(rm), { code: 0, stderr: "", stdout: sb.commandLine(rm) + removed(uid, 3) + COMPLETE });
    assertEquals(await sb.versions(), [], "versions after rm");
    expectRun(await sb.run(rm), {
      code: 100,
      stdout: sb.commandLine(rm),
      stderr: error(`'Version ${uid} not found.'`) + FAILED,
    }, "second rm");
    assertEquals(await sb.blobCount(), 2, "rm leaves the blobs to cleanup");
  });
});

Deno.test("disallow_rm_when_younger_than_days: rm refuses a young version unless -f", async () => {
  await withSandbox({ blockSize: BS, extraDefaults: ["disallow_rm_when_younger_than_days: 6"] }, async (sb) => {
    const image = buildImage(new Rng(32), BS, ["random", "random", "zero", "random"]);
    await Deno.writeFile(sb.path("disk.img"), image);
    const young = await sb.backup([sb.url("disk.img"), "vm"]);
    // Made 7 days ago: old enough.
    const old = await sb.backup([sb.url("disk.img"), "vm"], { env: fakeNow(-7 * DAY) });

    const rm = ["rm", young];
    expectRun(await sb.run(rm), {
      code: 100,
      stdout: sb.commandLine(rm),
      stderr: error(`'Version ${young} is too young. Will not delete.'`) + FAILED,
    }, "rm of a young version");
    // 5 whole days later it is still too young; 6 days later it is not.
    expectRun(await sb.run(rm, { env: fakeNow(5 * DAY + HOUR) }), {
      code: 100,
      stderr: error(`'Version ${young} is too young. Will not delete.'`) + FAILED,
    }, "rm 5 days later");
    const rmOld = ["rm", old];
    expectRun(await sb.run(rmOld), {
      code: 0,
      stderr: "",
      stdout: sb.commandLine(rmOld) + removed(old, 4) + COMPLETE,
    }, "rm of a version made 7 days ago");

    const force = ["rm", "-f", young];
    expectRun(await sb.run(force), {
      code: 0,
      stderr: "",
      stdout: sb.commandLine(force) + removed(young, 4) + COMPLETE,
    }, "rm -f of a young version");
    assertEquals(await sb.versions(), [], "versions after rm");
  });
});

Deno.test("fast cleanup deletes exactly the blobs no version uses, after the grace period from the rm or with --dangerous-force", async () => {
  await withSandbox({ blockSize: BS }, async (sb) => {
    const rng = new Rng(33);
    // A: 6 blocks (4 distinct blobs: x0, x1, a2, a3; block 4 repeats block 3; block 5 sparse).
    const a = buildImage(rng, BS, ["random", "random", "random", "random", { copyOf: 3 }, "zero"]);
    // B shares x0 and x1 with A; C shares a2 with A.
    const b = new Uint8Array(4 * BS);
    b.set(a.subarray(0, 2 * BS));
    rng.fill(b.subarray(2 * BS));
    const c = new Uint8Array(2 * BS);
    c.set(a.subarray(2 * BS, 3 * BS));
    rng.fill(c.subarray(BS));
    for (const [name, image] of [["a.img", a], ["b.img", b], ["c.img", c]] as const) {
      await Deno.writeFile(sb.path(name), image);
    }
    // Made three hours ago, so that only the time of the rm can start the grace period.
    const env = fakeNow(-3 * HOUR);
    const uidA = await sb.backup([sb.url("a.img"), "a"], { env });
    const uidB = await sb.backup([sb.url("b.img"), "b"], { env });
    const uidC = await sb.backup([sb.url("c.img"), "c"], { env });
    assertEquals(await sb.blobCount(), 7, "blobs");
    const onlyA = await blobsHolding(sb, a, [3]);
    assertEquals(onlyA.length, 1, "A's own blob");

    const rmA = ["rm", uidA];
    expectRun(await sb.run(rmA), { code: 0, stderr: "", stdout: sb.commandLine(rmA) + removed(uidA, 6) + COMPLETE });
    assertEquals(await sb.blobCount(), 7, "rm deletes no blob");

    const cleanup = ["cleanup"];
    expectRun(await sb.run(cleanup), {
      code: 0,
      stderr: "",
      stdout: sb.commandLine(cleanup) + emptyFastCleanup() + COMPLETE,
    }, "cleanup right after the rm");
    expectRun(await sb.run(cleanup, { env: fakeNow(HOUR / 2) }), {
      code: 0,
      stderr: "",
      stdout: sb.commandLine(cleanup) + emptyFastCleanup() + COMPLETE,
    }, "cleanup half an hour after the rm");
    assertEquals(await sb.blobCount(), 7, "nothing deleted within the grace period");

    expectRun(await sb.run(cleanup, { env: fakeNow(2 * HOUR) }), {
      code: 0,
      stderr: "",
      stdout: fastCleanupOf(sb, cleanup, 1),
    }, "cleanup two hours after the rm");
    const left = await sb.blobs();
    assertEquals(left.length, 6, "blobs after the cleanup");
    assert(!left.includes(onlyA[0]), "the blob only A used is gone");
    expectRun(await sb.run(cleanup, { env: fakeNow(2 * HOUR) }), {
      code: 0,
      stderr: "",
      stdout: sb.commandLine(cleanup) + emptyFastCleanup() + COMPLETE,
    }, "a second cleanup finds nothing");

    // rm B: x0 and x1 (once shared with A) and B's own two blobs are free now; only C's two blobs remain used.
    const rmB = ["rm", uidB];
    expectRun(await sb.run(rmB), { code: 0, stderr: "", stdout: sb.commandLine(rmB) + removed(uidB, 4) + COMPLETE });
    const keep = await blobsHolding(sb, c, [0, 1]);
    assertEquals(keep.length, 2, "C's blobs");
    expectRun(await sb.run(cleanup), {
      code: 0,
      stderr: "",
      stdout: sb.commandLine(cleanup) + emptyFastCleanup() + COMPLETE,
    }, "cleanup right after rm B");
    const force = ["cleanup", "--dangerous-force"];
    expectRun(await sb.run(force), { code: 0, stderr: "", stdout: fastCleanupOf(sb, force, 4) }, "--dangerous-force");
    assertEquals(await sb.blobs(), keep, "exactly C's blobs remain");

    await sb.restore(uidC, "c.restored");
    await assertSameFile(sb.path("c.restored"), sb.path("c.img"), "restore of the remaining version");
    const full = ["cleanup", "--full"];
    expectRun(await sb.run(full), {
      code: 0,
      stderr: "",
      stdout: sb.commandLine(full) + info("Cleanup: Removed 0 blobs") +
        info("Cleanup: Removed 2 page objects no version header names") + COMPLETE,
    }, "cleanup --full after the fast cleanups (and the page objects of A and B)");
  });
});

Deno.test("cleanup --full removes unreferenced blob files and unfinished writes, with -p only those with the prefix, and keeps referenced ones", async () => {
  await withSandbox({ blockSize: BS }, async (sb) => {
    const image = buildImage(new Rng(34), BS, Array.from({ length: 16 }, () => "random" as const));
    await Deno.writeFile(sb.path("disk.img"), image);
    const uid = await sb.backup([sb.url("disk.img"), "vm"]);
    const referenced = await sb.blobs();
    assertEquals(referenced.length, 16, "blobs of the version");

    const plant = async (uid: string, suffix = ".blob") => {
      const dir = `${sb.dataDir}/${uid.slice(0, 2)}/${uid.slice(2, 4)}`;
      await Deno.mkdir(dir, { recursive: true });
      await Deno.writeFile(`${dir}/${uid}${suffix}`, new Uint8Array(BS).fill(7));
      return `${dir}/${uid}${suffix}`;
    };
    // The prefix of a referenced blob, so that the orphan with it is not more than half of the blobs with it
    // (which a full cleanup refuses to delete without --dangerous-force); uids are hex, so "qq" is nobody's.
    const ab = referenced[0].slice(referenced[0].lastIndexOf("/") + 1).slice(0, 2);
    const orphanAb = await plant(`${ab}cd${"x".repeat(28)}`);
    const orphanEf = await plant(`qq01${"y".repeat(28)}`);
    assertEquals(await sb.blobCount(), 18, "blobs with the planted orphans");
    // What a killed backup leaves: writes that never got their final name.
    const unfinishedAb = await plant(`${ab}77${"z".repeat(28)}`, ".blob.tmp");
    const unfinishedEf = await plant(`qq77${"z".repeat(28)}`, ".blob.tmp");

    const prefixed = ["cleanup", "--full", "-p", ab];
    expectRun(await sb.run(prefixed), {
      code: 0,
      stderr: "",
      stdout: sb.commandLine(prefixed) + info("Cleanup: Removed 1 blobs") +
        info("Cleanup: Removed 1 unfinished blob writes (*.blob.tmp)") + COMPLETE,
    }, `cleanup --full -p ${ab}`);
    assert(
      !await exists(unfinishedAb) && await exists(unfinishedEf),
      "only the unfinished write with the prefix is gone",
    );
    assertEquals(await sb.blobs(), [...referenced, orphanEf].sort(), `blobs after cleanup --full -p ${ab}`);
    assert(!(await sb.blobs()).includes(orphanAb), "the orphan with the prefix is gone");

    const full = ["cleanup", "--full"];
    expectRun(await sb.run(full), {
      code: 0,
      stderr: "",
      stdout: sb.commandLine(full) + info("Cleanup: Removed 1 blobs") +
        info("Cleanup: Removed 1 unfinished blob writes (*.blob.tmp)") + COMPLETE,
    }, "cleanup --full");
    assert(!await exists(unfinishedEf), "the other unfinished write is gone too");
    assertEquals(await sb.blobs(), referenced, "only the referenced blobs remain");

    await sb.restore(uid, "restored.img");
    await assertSameFile(sb.path("restored.img"), sb.path("disk.img"), "restore after cleanup --full");
  });
});

async function exists(path: string): Promise<boolean> {
  return await Deno.stat(path).then(() => true, () => false);
}

Deno.test("cleanup --full right after rm frees the removed version's blobs and forgets them; the others still restore", async () => {
  await withSandbox({ blockSize: BS }, async (sb) => {
    const rng = new Rng(35);
    // B: 6 distinct blocks; A shares B's first two and has two of its own.
    const b = buildImage(rng, BS, Array.from({ length: 6 }, () => "random" as const));
    const a = new Uint8Array(4 * BS);
    a.set(b.subarray(0, 2 * BS));
    rng.fill(a.subarray(2 * BS));
    await Deno.writeFile(sb.path("a.img"), a);
    await Deno.writeFile(sb.path("b.img"), b);
    const uidA = await sb.backup([sb.url("a.img"), "a"]);
    const uidB = await sb.backup([sb.url("b.img"), "b"]);
    const onlyA = await blobsHolding(sb, a, [2, 3]);
    assertEquals([onlyA.length, await sb.blobCount()], [2, 8], "A's own blobs, all blobs");

    expectRun(await sb.run(["rm", uidA]), { code: 0, stderr: "" }, "rm A");
    const full = ["cleanup", "--full"];
    expectRun(await sb.run(full), {
      code: 0,
      stderr: "",
      stdout: sb.commandLine(full) + info("Cleanup: Removed 2 blobs") +
        info("Cleanup: Removed 1 page objects no version header names") + COMPLETE,
    }, "cleanup --full right after the rm (and A's page object)");
    assertEquals((await sb.blobs()).filter((path) => onlyA.includes(path)), [], "A's own blobs are gone");
    // The catalog forgot them too: no fast cleanup is left to do, and a new backup of A writes them again.
    const force = ["cleanup", "--dangerous-force"];
    expectRun(await sb.run(force), {
      code: 0,
      stderr: "",
      stdout: sb.commandLine(force) + emptyFastCleanup() + COMPLETE,
    });
    const again = await sb.backup([sb.url("a.img"), "a"]);
    assertEquals(await sb.blobCount(), 8, "the new backup of A wrote its own blobs again");
    await sb.restore(again, "a.restored");
    await assertSameFile(sb.path("a.restored"), sb.path("a.img"), "restore of A backed up again");
    await sb.restore(uidB, "b.restored");
    await assertSameFile(sb.path("b.restored"), sb.path("b.img"), "restore of B");
  });
});
