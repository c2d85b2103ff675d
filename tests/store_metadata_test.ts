/**
 * CLI tests of disaster recovery from the block store alone: every version (full, differential, continued
 * after a SIGKILL, encrypted, compressed and plain, tagged, protected, expired) has a header and page objects
 * beside its blobs; with the catalog file deleted, `rebuild-catalog` brings back every version with the same
 * `-m ls` in every field and byte-identical restores, and running it again changes nothing. An unchanged
 * differential backup writes its header and no page object. A backup killed at any moment never leaves a
 * valid version without its header and pages, and `restore --from-store` restores a version with no catalog
 * at all (none is created).
 */
import {
  assert,
  assertEquals,
  assertMatch,
  assertSameFile,
  collect,
  expectRun,
  recordedBlocks,
  type Sandbox,
  withSandbox,
} from "./helpers.ts";
import { DatabaseSync } from "node:sqlite";
import {
  backUpEveryKind,
  dropCatalog,
  exists,
  headerPath,
  metaNames,
  mixedBlocks,
  pagePath,
  readHeader,
  Rng,
  setEncryption,
  throttleWrites,
  writeImage,
} from "./meta_helpers.ts";

/** Backs up `image` and kills the backup with SIGKILL once some of its blocks are recorded. */
async function killMidway(sb: Sandbox, args: string[]): Promise<void> {
  const child = sb.spawn(args);
  const finished = child.output();
  const deadline = Date.now() + 60_000;
  while ((await recordedBlocks(sb)) === 0 && Date.now() < deadline) await new Promise((done) => setTimeout(done, 20));
  child.kill("SIGKILL");
  const result = collect(await finished, args);
  assertEquals(result.signal, "SIGKILL", "the throttled backup was still running when killed");
}

Deno.test("rebuild-catalog brings back every version with the same ls and byte-identical restores", async () => {
  await withSandbox({ blockSize: 4096 }, async (sb) => {
    const { images, uids } = await backUpEveryKind(sb, 1401, (args) => killMidway(sb, args), "x,y", async (uid) => {
      assert(!await exists(headerPath(sb, uid)), "a version in progress has no header");
    });
    expectRun(await sb.run(["remove-tag", uids.full, "keep"]), { code: 0, stderr: "" });

    const before = await sb.versions();
    assertEquals(before.length, 5);
    for (const uid of Object.values(uids)) assert(await exists(headerPath(sb, uid)), `header of ${uid}`);
    expectRun(await sb.run(["check-store"]), { code: 0, stderr: "" }, "no differences before the disaster");

    await dropCatalog(sb);
    expectRun(await sb.run(["ls"]), { code: 1, stderr: /does not exist/ }, "the catalog is gone");
    const rebuilt = await sb.run(["rebuild-catalog"]);
    expectRun(rebuilt, { code: 0, stderr: "" });
    assertMatch(rebuilt.stdout, /Rebuilt 5 of 5 versions from the data backend \(0 of them invalid/);
    assertEquals(await sb.versions(), before, "-m ls after the rebuild, every field");
    for (const [kind, uid] of Object.entries(uids)) {
      await sb.restore(uid, `${kind}.restored`);
      await assertSameFile(sb.path(`${kind}.restored`), images[kind], `restore of the ${kind} version`);
    }
    expectRun(await sb.run(["check-store"]), { code: 0, stderr: "" }, "the rebuilt catalog matches its objects");

    const again = await sb.run(["rebuild-catalog"]);
    expectRun(again, { code: 0, stderr: "" });
    assertMatch(again.stdout, /Rebuilt 0 of 5 versions .*; 5 were in the catalog already, 0 skipped/);
    assertEquals(await sb.versions(), before, "running it again changes nothing");
    // The rebuilt catalog works on: a differential backup on a rebuilt version deduplicates onto its blobs.
    const next = await sb.backup(["-f", uids.diff, sb.url("diff.img"), "web"]);
    await sb.restore(next, "next.restored");
    await assertSameFile(sb.path("next.restored"), images.diff);
  });
});

Deno.test("rebuild-catalog --json names what it imported", async () => {
  await withSandbox({ blockSize: 4096 }, async (sb) => {
    await writeImage(sb, "a.img", new Rng(7), mixedBlocks(8));
    const uid = await sb.backup([sb.url("a.img"), "a"]);
    await dropCatalog(sb);
    const result = await sb.run(["--json", "rebuild-catalog"]);
    expectRun(result, { code: 0 });
    const json = JSON.parse(result.stdout);
    assertEquals(
      [json.command, json.success, json.versions, json.imported, json.imported_invalid, json.skipped],
      ["rebuild-catalog", true, 1, [uid], [], []],
    );
  });
});

Deno.test("an unchanged differential writes exactly one new metadata object, its header, and no page object", async () => {
  await withSandbox({ blockSize: 4096 }, async (sb) => {
    await writeImage(sb, "a.img", new Rng(21), mixedBlocks(2500), 77);
    const base = await sb.backup([sb.url("a.img"), "vm"]);
    const pages = await metaNames(sb, "pages");
    assertEquals(pages.length, 3, "2,501 distinct blocks: three page objects");
    // Page objects are named by their content: only their dates tell whether one was written again.
    const old = new Date(Date.now() - 3600_000);
    for (const page of pages) await Deno.utime(pagePath(sb, page), old, old);
    const diff = await sb.backup(["-f", base, sb.url("a.img"), "vm"]);
    assertEquals(await metaNames(sb, "versions"), [base, diff].sort(), "one new header");
    assertEquals(await metaNames(sb, "pages"), pages, "no new page object");
    for (const page of pages) {
      assertEquals((await Deno.stat(pagePath(sb, page))).mtime, old, `page object ${page} was not written again`);
    }
    assertEquals((await readHeader(sb, diff)).pages, (await readHeader(sb, base)).pages);
    const changed = await Deno.readFile(sb.path("a.img"));
    changed.fill(9, 4096 * 1500, 4096 * 1501);
    await Deno.writeFile(sb.path("b.img"), changed);
    const next = await sb.backup(["-f", diff, sb.url("b.img"), "vm"]);
    const added = (await metaNames(sb, "pages")).filter((name) => !pages.includes(name));
    assertEquals(added.length, 1, "a changed block writes the page object of its page only");
    assertEquals((await readHeader(sb, next)).pages[1], added[0]);
  });
});

Deno.test("a backup killed at any moment never leaves a valid version without its header and pages", async () => {
  await withSandbox({ blockSize: 4096 }, async (sb) => {
    const image = await writeImage(sb, "a.img", new Rng(3), mixedBlocks(48));
    await throttleWrites(sb, 96 * 1024);
    const ahead = new Set<string>();
    for (let round = 0; round < 6; round++) {
      const before = snapshot(sb);
      const child = sb.spawn(["backup", sb.url("a.img"), "vm"]);
      const finished = child.output();
      // Killed the moment a new object appears or a version turns valid (on odd rounds: at some time).
      const until = Date.now() + (round % 2 === 0 ? 30_000 : 100 + round * 150);
      while (Date.now() < until && !changed(before, snapshot(sb))) await new Promise((done) => setTimeout(done, 1));
      child.kill("SIGKILL");
      await finished;
      for (const version of await sb.versions()) {
        const hasHeader = await exists(headerPath(sb, version.uid));
        assert(version.valid === "0" || hasHeader, `round ${round}: valid version ${version.uid} has no header`);
        if (hasHeader) {
          for (const page of (await readHeader(sb, version.uid)).pages) {
            assert(await exists(pagePath(sb, page)), `round ${round}: ${version.uid} lacks page object ${page}`);
          }
        }
        if (version.valid === "0" && hasHeader) ahead.add(version.uid);
      }
    }
    const check = await sb.run(["check-store"]);
    expectRun(check, { code: 0, stderr: "" }, "objects ahead of their versions are no fault");
    assertEquals(check.stdout.split("\n").filter((line) => line.includes(" ahead ")).length, ahead.size);
    for (const version of (await sb.versions()).filter((v) => v.valid === "0")) {
      expectRun(await sb.run(["backup", "-c", version.uid, sb.url("a.img"), "vm"]), { code: 0, stderr: "" });
      assert(await exists(headerPath(sb, version.uid)), `backup -c wrote the header of ${version.uid}`);
    }
    await throttleWrites(sb, undefined);
    await dropCatalog(sb);
    expectRun(await sb.run(["rebuild-catalog"]), { code: 0, stderr: "" });
    for (const version of await sb.versions()) {
      assertEquals(version.valid, "1", `rebuilt ${version.uid}`);
      await sb.restore(version.uid, "out.img", ["-f"]);
      await assertSameFile(sb.path("out.img"), image);
    }
  });
});

/** The metadata objects (headers and pages) and the valid versions, as a running backup changes them. */
function snapshot(sb: Sandbox): { objects: number; valid: number } {
  let objects = 0;
  for (const kind of ["versions", "pages"]) {
    try {
      for (const entry of Deno.readDirSync(`${sb.dataDir}/meta/${kind}`)) if (entry.name.endsWith(".meta")) objects++;
    } catch {
      // no object yet
    }
  }
  let db: DatabaseSync | null = null;
  try {
    db = new DatabaseSync(sb.path("backy.sqlite"), { readOnly: true });
    return {
      objects,
      valid: (db.prepare("SELECT count(*) AS n FROM versions WHERE valid = 1").get() as { n: number }).n,
    };
  } catch {
    return { objects, valid: 0 };
  } finally {
    db?.close();
  }
}

function changed(before: { objects: number; valid: number }, now: { objects: number; valid: number }): boolean {
  return now.objects > before.objects || now.valid > before.valid;
}

Deno.test("restore --from-store restores a version with no catalog at all, and creates none", async () => {
  await withSandbox({ blockSize: 4096 }, async (sb) => {
    const image = await writeImage(sb, "a.img", new Rng(11), mixedBlocks(30), 123);
    await setEncryption(sb, true);
    const uid = await sb.backup([sb.url("a.img"), "a"]);
    await dropCatalog(sb);
    const args = ["--json", "restore", "--from-store", uid, sb.url("out.img")];
    const result = await sb.run(args);
    expectRun(result, { code: 0 });
    assertEquals(JSON.parse(result.stdout).counters.blocks_written > 0, true);
    await assertSameFile(sb.path("out.img"), image);
    assert(!await exists(sb.path("backy.sqlite")), "no catalog file was created");
    const unknown = "00000000-0000-1000-8000-000000000000";
    expectRun(await sb.run(["restore", "--from-store", unknown, sb.url("x.img")]), {
      code: 100,
      stderr: new RegExp(`Version ${unknown} has no metadata object versions/${unknown} in the data backend\\.`),
    });
    await setEncryption(sb, true, "ff".repeat(32));
    expectRun(await sb.run(["restore", "--from-store", uid, sb.url("y.img")]), {
      code: 100,
      stderr: /Cannot decrypt metadata object .*Is encryption_key the key it was written with\?/,
    });
    assert(!await exists(sb.path("x.img")) && !await exists(sb.path("y.img")), "nothing was restored");
    assert(!await exists(sb.path("backy.sqlite")), "still no catalog file");
  });
});
