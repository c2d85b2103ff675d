/**
 * CLI tests of bad metadata objects and of the consistency between catalog and store: `rebuild-catalog` skips
 * and names a tampered, a truncated, a foreign and an unknown-format header and a damaged page object, imports
 * a version whose blobs are missing as invalid, and leaves the other versions whole; a wrong key skips the
 * encrypted versions until the right one is configured. `check-store` lists differences both ways and
 * `--repair` writes headers and page objects again; `scrub --from-store` finds bad blobs without a catalog;
 * `cleanup --full` tells missing blobs from unused ones and deletes the page objects no header names; `rm`
 * and `import` remove and write headers.
 */
import { DatabaseSync } from "node:sqlite";
import {
  assert,
  assertEquals,
  assertMatch,
  assertSameFile,
  expectRun,
  parseMachineRows,
  type Sandbox,
  withSandbox,
} from "./helpers.ts";
import {
  codecStore,
  dropCatalog,
  exists,
  headerPath,
  KEY,
  metaNames,
  OTHER_KEY,
  pagePath,
  readHeader,
  Rng,
  setCleanupGrace,
  setEncryption,
  writeImage,
} from "./meta_helpers.ts";

/** Backs up `count` images of random blocks (nothing shared between them); returns their uids. */
async function versions(sb: Sandbox, count: number, seed = 5): Promise<string[]> {
  const rng = new Rng(seed);
  const uids: string[] = [];
  for (let i = 0; i < count; i++) {
    await writeImage(sb, `v${i}.img`, rng, Array(6).fill("random"));
    uids.push(await sb.backup([sb.url(`v${i}.img`), `vm${i}`]));
  }
  return uids;
}

/** The blob uids of a version, from the catalog. */
function blobsOf(sb: Sandbox, uid: string): string[] {
  const db = new DatabaseSync(sb.path("backy.sqlite"), { readOnly: true });
  try {
    const row = db.prepare("SELECT pages FROM versions WHERE uid = ?").get(uid) as { pages: Uint8Array };
    const pages = [...new Uint32Array(row.pages.slice().buffer)];
    const ids = pages.flatMap((page) => {
      const { ids } = db.prepare("SELECT ids FROM pages WHERE id = ?").get(page) as { ids: Uint8Array };
      return [...new Uint32Array(ids.slice().buffer)];
    });
    return ids.map((id) => (db.prepare("SELECT uid FROM blobs WHERE id = ?").get(id) as { uid: string | null }).uid)
      .filter((blob): blob is string => blob !== null);
  } finally {
    db.close();
  }
}

function blobFile(sb: Sandbox, blob: string): string {
  return `${sb.dataDir}/${blob.slice(0, 2)}/${blob.slice(2, 4)}/${blob}.blob`;
}

Deno.test("rebuild-catalog skips damaged and foreign objects by name, imports one with missing blobs invalid, and keeps the rest whole", async () => {
  await withSandbox({ blockSize: 4096 }, async (sb) => {
    const [tampered, truncated, future, missing, intact, badPage] = await versions(sb, 6);
    const before = await sb.versions();
    const object = (uid: string) => headerPath(sb, uid);
    const bytes = await Deno.readFile(object(tampered));
    bytes[bytes.length - 30] ^= 0x01;
    await Deno.writeFile(object(tampered), bytes);
    await Deno.truncate(object(truncated), (await Deno.stat(object(truncated))).size - 9);
    const store = codecStore(sb);
    const plain = await store.readMeta("versions", future);
    plain[8] = 2;
    await store.writeMeta("versions", future, plain);
    await Deno.writeTextFile(`${sb.dataDir}/meta/versions/notes.meta`, "not ours");
    const [page] = (await readHeader(sb, badPage)).pages;
    const damaged = await store.readMeta("pages", page);
    damaged[damaged.length - 5] ^= 0x01;
    await store.writeMeta("pages", page, damaged);
    await Deno.remove(blobFile(sb, blobsOf(sb, missing)[2]));
    await dropCatalog(sb);

    const result = await sb.run(["--json", "rebuild-catalog"]);
    expectRun(result, { code: 100 });
    const json = JSON.parse(result.stdout.split("\n").filter((line) => line.startsWith("{")).at(-1)!);
    assertEquals(json.imported.sort(), [missing, intact].sort());
    assertEquals(json.imported_invalid, [{ uid: missing, missing_blobs: [blobsOf(sb, missing)[2]] }]);
    type Skip = { uid: string; object: string; kind: string; reason: string };
    const reasons = Object.fromEntries(json.skipped.map((s: Skip) => [s.uid, s.reason]));
    const objects = Object.fromEntries(json.skipped.map((s: Skip) => [s.uid, [s.object, s.kind]]));
    assertEquals(objects, {
      [tampered]: [`versions/${tampered}`, "damaged"],
      [truncated]: [`versions/${truncated}`, "damaged"],
      [future]: [`versions/${future}`, "damaged"],
      [badPage]: [`pages/${page}`, "damaged"],
      notes: ["versions/notes", "foreign"],
    });
    assertMatch(reasons[tampered], /integrity check failed|is damaged/);
    assertMatch(reasons[truncated], /is damaged|truncated|integrity/);
    assertMatch(reasons[future], /format version 2, which this backy2 does not know/);
    assertMatch(reasons[badPage], new RegExp(`Metadata object pages/${page} is unusable: integrity check failed`));
    assertMatch(reasons.notes, /Metadata object versions\/notes is foreign: no BKY2META header/);
    assertMatch(result.stderr, new RegExp(`Skipped: .*${tampered}`));
    assertMatch(result.stderr, new RegExp(`Skipped: .*pages/${page}`));

    const after = await sb.versions();
    assertEquals(after.find((v) => v.uid === intact), before.find((v) => v.uid === intact));
    assertEquals(after.find((v) => v.uid === missing)?.valid, "0", "a version with a missing blob comes back invalid");
    assertEquals(after.length, 2, "no half-built version of a bad object");
    await sb.restore(intact, "intact.img");
    await assertSameFile(sb.path("intact.img"), sb.path("v4.img"));
  });
});

Deno.test("a wrong encryption key skips the encrypted objects; the right key imports them on the next run", async () => {
  await withSandbox({ blockSize: 4096 }, async (sb) => {
    const [plain] = await versions(sb, 1, 8);
    await setEncryption(sb, true);
    const [secret] = await versions(sb, 1, 9);
    const before = await sb.versions();
    await dropCatalog(sb);
    await setEncryption(sb, true, OTHER_KEY);
    const wrong = await sb.run(["rebuild-catalog"]);
    expectRun(wrong, {
      code: 100,
      stderr: /Skipped: Cannot decrypt metadata object versions\/.*Is encryption_key the key/,
    });
    assertEquals((await sb.versions()).map((v) => v.uid), [plain]);
    await setEncryption(sb, true);
    const right = await sb.run(["rebuild-catalog"]);
    expectRun(right, { code: 0, stderr: "" });
    assertMatch(right.stdout, /Rebuilt 1 of 2 versions .* 1 were in the catalog already/);
    assertEquals(await sb.versions(), before);
    assert(secret !== plain);
  });
});

Deno.test("check-store lists missing, stale and orphaned objects; --repair writes the first two again", async () => {
  await withSandbox({ blockSize: 4096 }, async (sb) => {
    const [lost, changed, removed, fine] = await versions(sb, 4);
    expectRun(await sb.run(["check-store"]), { code: 0, stderr: "" });
    await Deno.remove(headerPath(sb, lost));
    const db = new DatabaseSync(sb.path("backy.sqlite"));
    db.prepare("UPDATE versions SET protected = 1, expire = '2040-01-01 00:00:00' WHERE uid = ?").run(changed);
    db.close();
    const kept = await Deno.readFile(headerPath(sb, removed));
    expectRun(await sb.run(["rm", "-f", removed]), { code: 0, stderr: "" });
    assert(!await exists(headerPath(sb, removed)), "rm removes the header");
    await Deno.writeFile(headerPath(sb, removed), kept);

    const check = await sb.run(["-m", "check-store"]);
    expectRun(check, { code: 20 });
    const rows = parseMachineRows(check.stdout);
    // Versions in the catalog's order (by name), then objects without a version.
    assertEquals(rows.map((r) => [r.uid, r.state, r.repaired]), [
      [lost, "missing", "0"],
      [changed, "stale", "0"],
      [removed, "orphan", "0"],
    ]);
    assertMatch(
      rows.find((r) => r.uid === changed)!.detail,
      /its header differs from the catalog in expire, protected/,
    );

    const repair = await sb.run(["--json", "check-store", "--repair"]);
    expectRun(repair, { code: 20 });
    const repaired = JSON.parse(repair.stdout) as { uid: string; state: string; repaired: boolean }[];
    assertEquals(repaired.filter((r) => r.repaired).map((r) => r.uid).sort(), [lost, changed].sort());
    const left = await sb.run(["-m", "check-store"]);
    expectRun(left, { code: 20 });
    assertEquals(parseMachineRows(left.stdout).map((r) => [r.uid, r.state]), [[removed, "orphan"]]);
    await Deno.remove(headerPath(sb, removed));
    expectRun(await sb.run(["check-store"]), { code: 0, stderr: "" });
    assert(fine !== lost);
  });
});

Deno.test("check-store --repair is the one step that gives an old store its objects", async () => {
  await withSandbox({ blockSize: 4096 }, async (sb) => {
    const uids = await versions(sb, 3);
    expectRun(await sb.run(["add-tag", uids[0], "t1"]), { code: 0, stderr: "" });
    const before = await sb.versions();
    await Deno.remove(`${sb.dataDir}/meta`, { recursive: true });
    const old = await sb.run(["-m", "check-store"]);
    expectRun(old, { code: 20 });
    assertEquals(parseMachineRows(old.stdout).map((r) => r.state), ["missing", "missing", "missing"]);
    expectRun(await sb.run(["check-store", "--repair"]), { code: 0, stderr: "" });
    await dropCatalog(sb);
    expectRun(await sb.run(["rebuild-catalog"]), { code: 0, stderr: "" });
    assertEquals(await sb.versions(), before);
  });
});

Deno.test("tags, expire, protection, scrub and import keep the objects current; rm removes them", async () => {
  await withSandbox({ blockSize: 4096 }, async (sb) => {
    const [a, b] = await versions(sb, 2);
    const steps = [["add-tag", a, "x,y"], ["remove-tag", a, "x"], ["expire", b, "2039-05-06"], ["protect", b], [
      "unprotect",
      b,
    ], ["protect", a]];
    for (const args of steps) {
      expectRun(await sb.run(args), { code: 0, stderr: "" });
      expectRun(await sb.run(["check-store"]), { code: 0, stderr: "" }, `check-store after ${args[0]}`);
    }
    await Deno.remove(blobFile(sb, blobsOf(sb, b)[0]));
    expectRun(await sb.run(["scrub", b]), { code: 20 });
    expectRun(await sb.run(["check-store"]), { code: 0, stderr: "" }, "check-store after scrub invalidated a blob");
    expectRun(await sb.run(["export", "-F", "deno-1", b, sb.path("b.dump")]), { code: 0, stderr: "" });
    expectRun(await sb.run(["rm", "-f", b]), { code: 0, stderr: "" });
    assert(!await exists(headerPath(sb, b)));
    expectRun(await sb.run(["import", sb.path("b.dump")]), { code: 0, stderr: "" });
    assert(await exists(headerPath(sb, b)), "import writes the header");
    expectRun(await sb.run(["check-store"]), { code: 0, stderr: "" }, "check-store after import");
    await dropCatalog(sb);
    expectRun(await sb.run(["rebuild-catalog"]), { code: 100, stderr: /as invalid: 1 blobs it names are missing/ });
  });
});

Deno.test("scrub --from-store checks objects against their blobs; cleanup --full tells missing blobs from unused ones", async () => {
  await withSandbox({ blockSize: 4096 }, async (sb) => {
    const [good, bad, gone] = await versions(sb, 3);
    const lostBlob = blobsOf(sb, bad)[1];
    await Deno.remove(blobFile(sb, lostBlob));
    const goneBlobs = blobsOf(sb, gone);
    expectRun(await sb.run(["scrub", "--from-store", good]), { code: 0, stderr: "" });
    const all = await sb.run(["--json", "scrub", "--from-store"]);
    expectRun(all, { code: 20 });
    const json = JSON.parse(all.stdout);
    assertEquals([json.versions_with_bad_blobs, json.counters.objects], [[bad], 3]);
    assertEquals(await sb.versions().then((rows) => rows.map((v) => v.valid)), ["1", "1", "1"], "nothing marked");

    // A version the catalog no longer has, whose object is still there: its blobs are kept.
    const db = new DatabaseSync(sb.path("backy.sqlite"));
    db.prepare("DELETE FROM versions WHERE uid = ?").run(gone);
    db.close();
    const cleanup = await sb.run(["--json", "cleanup", "--full", "--dangerous-force"]);
    expectRun(cleanup, { code: 6, stderr: new RegExp(`1 blobs the catalog references are missing .*${lostBlob}`) });
    assertEquals(JSON.parse(cleanup.stdout).counters.blobs_missing, 1);
    for (const blob of goneBlobs) {
      assert(await exists(blobFile(sb, blob)), `blob ${blob} of the orphaned object is kept`);
    }
  });
});

Deno.test("check-store names a missing and a damaged page object; --repair writes them again", async () => {
  await withSandbox({ blockSize: 4096 }, async (sb) => {
    const [lost, damaged, fine] = await versions(sb, 3);
    const [lostPage] = (await readHeader(sb, lost)).pages;
    const [damagedPage] = (await readHeader(sb, damaged)).pages;
    await Deno.remove(pagePath(sb, lostPage));
    const bytes = await Deno.readFile(pagePath(sb, damagedPage));
    bytes[bytes.length - 3] ^= 0x40;
    await Deno.writeFile(pagePath(sb, damagedPage), bytes);
    const check = await sb.run(["-m", "check-store"]);
    expectRun(check, { code: 20 });
    const rows = parseMachineRows(check.stdout);
    assertEquals(rows.map((r) => [r.uid, r.state]), [[lost, "missing"], [damaged, "damaged"]]);
    assertMatch(rows[0].detail, new RegExp(`no page object pages/${lostPage} in the data backend`));
    assertMatch(rows[1].detail, new RegExp(`Metadata object pages/${damagedPage} is damaged`));
    expectRun(await sb.run(["check-store", "--repair"]), { code: 0, stderr: "" });
    expectRun(await sb.run(["check-store"]), { code: 0, stderr: "" });
    assert(await exists(pagePath(sb, lostPage)), "the missing page object is written again, under its name");
    await dropCatalog(sb);
    expectRun(await sb.run(["rebuild-catalog"]), { code: 0, stderr: "" });
    for (const [i, uid] of [lost, damaged, fine].entries()) {
      await sb.restore(uid, `r${i}.img`);
      await assertSameFile(sb.path(`r${i}.img`), sb.path(`v${i}.img`));
    }
  });
});

Deno.test("cleanup --full deletes the old page objects no header names and keeps the named and the young ones", async () => {
  await withSandbox({ blockSize: 4096 }, async (sb) => {
    await setCleanupGrace(sb, 1);
    const [a, b] = await versions(sb, 2);
    const c = await sb.backup(["-f", a, sb.url("v0.img"), "vm0"]);
    const [pageA] = (await readHeader(sb, a)).pages;
    const [pageB] = (await readHeader(sb, b)).pages;
    expectRun(await sb.run(["rm", "-f", a]), { code: 0, stderr: "" });
    expectRun(await sb.run(["rm", "-f", b]), { code: 0, stderr: "" });
    const young = "ab".repeat(32);
    await Deno.writeFile(pagePath(sb, young), new Uint8Array(10));
    const hoursAgo = new Date(Date.now() - 2 * 3600_000);
    for (const page of [pageA, pageB]) await Deno.utime(pagePath(sb, page), hoursAgo, hoursAgo);
    // The blobs of b are young too, but gone from the catalog: the sweep of pages is the store's own rule.
    const cleanup = await sb.run(["cleanup", "--full", "--dangerous-force"]);
    expectRun(cleanup, { code: 0, stderr: "" });
    assertMatch(cleanup.stdout, /Removed 1 page objects no version header names/);
    assertMatch(cleanup.stdout, /Kept 1 unnamed page objects younger than the grace period/);
    assertEquals(await metaNames(sb, "pages"), [pageA, young].sort(), "b's page went; a's is c's; the young stays");
    await sb.restore(c, "c.img");
    await assertSameFile(sb.path("c.img"), sb.path("v0.img"));

    await Deno.writeTextFile(headerPath(sb, "junk"), "not a header");
    await Deno.utime(pagePath(sb, young), hoursAgo, hoursAgo);
    const unsure = await sb.run(["cleanup", "--full", "--dangerous-force"]);
    expectRun(unsure, { code: 0, stderr: "" });
    assertMatch(unsure.stdout, /WARNING: .*kept every page object, since some version headers could not be read/);
    assertEquals(await metaNames(sb, "pages"), [pageA, young].sort(), "an unreadable header keeps every page");
    await Deno.remove(headerPath(sb, "junk"));
    expectRun(await sb.run(["cleanup", "--full", "--dangerous-force"]), { code: 0, stderr: "" });
    assertEquals(await metaNames(sb, "pages"), [pageA]);
  });
});

Deno.test("rekey writes every object again: a rebuild with the new key brings the versions back", async () => {
  await withSandbox({ blockSize: 4096 }, async (sb) => {
    await setEncryption(sb, true);
    const [uid] = await versions(sb, 1, 12);
    const before = await sb.versions();
    await setEncryption(sb, true, OTHER_KEY);
    expectRun(await sb.run(["rekey", KEY]), { code: 0, stderr: "" });
    expectRun(await sb.run(["check-store"]), { code: 0, stderr: "" }, "the objects carry the rewrapped envkeys");
    await dropCatalog(sb);
    expectRun(await sb.run(["rebuild-catalog"]), { code: 0, stderr: "" });
    assertEquals(await sb.versions(), before);
    await sb.restore(uid, "out.img");
    await assertSameFile(sb.path("out.img"), sb.path("v0.img"));
  });
});
