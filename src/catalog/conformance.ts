/**
 * One suite of catalog tests for every backend (sqlite_test.ts, postgres/catalog_test.ts run it): versions and
 * tags, block-map pages and their reference counts, deduplication claims against a concurrent cleanup,
 * invalidation, imports and exports, stats, rekeying and transactions, and the page objects' records
 * (page_objects_conformance.ts).
 */
import assert from "node:assert/strict";
import type { BlockRecord, Catalog, ImportedVersion, NewBlobRef, NewVersion, StatsRow } from "./catalog.ts";
import { BackyError } from "../util/errors.ts";
import { pageObjectChecks } from "./page_objects_conformance.ts";

/** A fresh, empty catalog, and a second connection to the same one (another process, as far as it knows). */
export interface CatalogFixture {
  catalog: Catalog;
  another(): Promise<Catalog>;
  /** Closes what it opened and removes the catalog. */
  destroy(): Promise<void>;
}

export type FixtureFactory = () => Promise<CatalogFixture>;

const FAR_FUTURE = 2 ** 40;
const DATE = "2026-11-26 15:04:52.082034";
const LAYOUT = { blockSize: 4096, hashFunction: "sha512" };

export type CatalogTest = (name: string, fn: (fx: CatalogFixture) => Promise<void>) => void;

export function blob(uid: string, checksum: string, fields: Partial<NewBlobRef> = {}): NewBlobRef {
  return { uid, checksum, size: 4096, encVersion: 0, encEnvkey: null, encNonce: null, ...fields };
}

function newVersion(size = 1, fields: Partial<NewVersion> = {}): NewVersion {
  return { name: "a", snapshotName: "", size, sizeBytes: size * 4096, ...LAYOUT, ...fields };
}

function imported(uid: string, size: number, fields: Partial<ImportedVersion> = {}): ImportedVersion {
  const base = { date: DATE, expire: null, name: "vm", snapshotName: "", valid: true, protected: false, tags: [] };
  return { uid, size, sizeBytes: size * 4096, ...base, ...fields };
}

function block(id: number, uid: string | null, fields: Partial<BlockRecord> = {}): BlockRecord {
  const checksum = uid === null ? null : `sum-${uid}`;
  return {
    id,
    uid,
    checksum,
    size: 4096,
    valid: true,
    encVersion: 0,
    encEnvkey: null,
    encNonce: null,
    date: DATE,
    ...fields,
  };
}

function statsRow(versionUid: string, date: string, bytesStored: number | null = null): StatsRow {
  const counts = { bytesRead: 1, blocksRead: 1, bytesWritten: 1, blocksWritten: 1, bytesFoundDedup: 0 };
  return {
    date,
    versionUid,
    versionName: "vm",
    versionSizeBytes: 1,
    versionSizeBlocks: 1,
    ...counts,
    blocksFoundDedup: 0,
    bytesSparse: 0,
    blocksSparse: 0,
    durationSeconds: 3,
    bytesStored,
  };
}

const uidsOf = (list: { uid: string }[]) => list.map((item) => item.uid).sort();

/** Registers the suite under `label`; `factory` gives each test a fresh catalog. `ignore` skips it all. */
export function catalogConformance(label: string, factory: FixtureFactory, ignore = false): void {
  const test: CatalogTest = (name, fn) =>
    Deno.test({
      name: `${label}: ${name}`,
      ignore,
      sanitizeResources: false,
      sanitizeOps: false,
      fn: async () => {
        const fx = await factory();
        try {
          await fn(fx);
        } finally {
          await fx.destroy();
        }
      },
    });

  test("versions: created in progress, listed by name and date, filtered, tagged, flagged, removed", async ({ catalog }) => {
    const a = await catalog.createVersion(newVersion(2, { name: "b", snapshotName: "s1" }));
    const b = await catalog.createVersion(newVersion(1, { name: "a" }));
    assert.equal(a.inProgress, true);
    assert.equal(a.valid, false);
    assert.deepEqual([a.blockSize, a.hashFunction], [4096, "sha512"]);
    assert.deepEqual((await catalog.listVersions()).map((v) => v.uid), [b.uid, a.uid]);
    assert.deepEqual((await catalog.listVersions({ snapshotName: "s1" })).map((v) => v.uid), [a.uid]);
    await catalog.addTags(a.uid, ["z", "x"]);
    await catalog.addTags(a.uid, ["x"]);
    await catalog.removeTags(a.uid, ["z", "missing"]);
    assert.deepEqual((await catalog.getVersion(a.uid)).tags, ["x"]);
    assert.deepEqual((await catalog.listVersions({ tag: "x" })).map((v) => v.uid), [a.uid]);
    await catalog.setExpire(a.uid, "2020-01-01 00:00:00.000000");
    await catalog.setProtected(a.uid, true);
    await catalog.setVersionValid(a.uid, true);
    const changed = await catalog.getVersion(a.uid);
    assert.deepEqual([changed.expire, changed.protected, changed.valid], ["2020-01-01 00:00:00.000000", true, true]);
    assert.deepEqual((await catalog.listVersions({ expiredBefore: "2021-01-01 00:00:00" })).map((v) => v.uid), [a.uid]);
    await assert.rejects(catalog.setExpire("nope", null), /Version nope not found/);
    await assert.rejects(catalog.getVersion("nope"), BackyError);
    assert.equal(await catalog.removeVersion(b.uid), 0);
    assert.deepEqual((await catalog.listVersions()).map((v) => v.uid), [a.uid]);
  });

  test("a committed block map reads back across pages, and identical pages are shared", async ({ catalog }) => {
    const ids = await catalog.addRefs(Array.from({ length: 3000 }, (_, i) => blob(`u${i}`, `c${i}`)));
    const a = await catalog.createVersion(newVersion(3000));
    await catalog.commitVersion(a.uid, Uint32Array.from(ids));
    const b = await catalog.createVersion(newVersion(3000));
    await catalog.commitVersion(b.uid, Uint32Array.from(ids));
    assert.deepEqual([...await catalog.blockMap(b.uid)], ids);
    assert.equal((await catalog.getVersion(b.uid)).valid, true);
    assert.equal((await catalog.referenceCounts()).get(ids[2999]), 2);
    await assert.rejects(catalog.commitVersion(b.uid, Uint32Array.from(ids)), /not in progress/);
    assert.equal(await catalog.removeVersion(a.uid), 3000);
    assert.deepEqual([...await catalog.blockMap(b.uid)], ids);
    assert.equal((await catalog.takeDeleteCandidates(FAR_FUTURE)).length, 0);
    assert.equal(await catalog.removeVersion(b.uid), 3000);
    assert.equal((await catalog.takeDeleteCandidates(FAR_FUTURE)).length, 3000);
  });

  test("a draft is saved, read back and counted until its version is committed", async ({ catalog }) => {
    const [one, two] = await catalog.addRefs([blob("one", "1"), blob("two", "2")]);
    const v = await catalog.createVersion(newVersion(3));
    await catalog.saveDraft(v.uid, Uint32Array.of(one, 0, two));
    assert.deepEqual([...await catalog.blockMap(v.uid)], [one, 0, two]);
    assert.equal((await catalog.referenceCounts()).get(one), 1);
    await assert.rejects(catalog.commitVersion(v.uid, Uint32Array.of(one, 0, two)), /without a reference/);
    const sparse = await catalog.sparseRef(4096);
    assert.equal(await catalog.sparseRef(4096), sparse);
    await catalog.commitVersion(v.uid, Uint32Array.of(one, sparse, two));
    assert.deepEqual([...await catalog.blockMap(v.uid)], [one, sparse, two]);
    assert.equal((await catalog.referenceCounts()).get(one), 1);
  });

  test("removing the last version using a blob makes it a cleanup candidate", async ({ catalog }) => {
    const [id] = await catalog.addRefs([blob("only", "sum")]);
    const v = await catalog.createVersion(newVersion());
    await catalog.commitVersion(v.uid, Uint32Array.of(id));
    await catalog.removeVersion(v.uid);
    assert.deepEqual(uidsOf(await catalog.takeDeleteCandidates(FAR_FUTURE)), ["only"]);
    assert.deepEqual(await catalog.findDedup([{ checksum: "sum", size: 4096 }], [0]), [null]);
    await catalog.forgetDeleted(["only"]);
    assert.deepEqual(await catalog.takeDeleteCandidates(FAR_FUTURE), []);
  });

  test("a blob claimed by a running backup survives the removal of its last version and a cleanup", async ({ catalog }) => {
    const [id] = await catalog.addRefs([blob("shared", "sum")]);
    const old = await catalog.createVersion(newVersion());
    await catalog.commitVersion(old.uid, Uint32Array.of(id));
    const running = await catalog.createVersion(newVersion());
    const [found] = await catalog.findDedup([{ checksum: "sum", size: 4096 }], [0], running.uid);
    assert.equal(found?.id, id);
    await catalog.removeVersion(old.uid);
    assert.deepEqual(await catalog.takeDeleteCandidates(FAR_FUTURE), []);
    await catalog.commitVersion(running.uid, Uint32Array.of(id));
    assert.deepEqual(await catalog.takeDeleteCandidates(FAR_FUTURE), []);
    await catalog.removeVersion(running.uid);
    assert.deepEqual(uidsOf(await catalog.takeDeleteCandidates(FAR_FUTURE)), ["shared"]);
  });

  test("a blob only an unfinished backup's draft uses is not a cleanup candidate", async ({ catalog }) => {
    const [id] = await catalog.addRefs([blob("drafted", "sum")]);
    const old = await catalog.createVersion(newVersion());
    await catalog.commitVersion(old.uid, Uint32Array.of(id));
    const killed = await catalog.createVersion(newVersion(2));
    await catalog.saveDraft(killed.uid, Uint32Array.of(id, 0));
    await catalog.removeVersion(old.uid);
    assert.deepEqual(await catalog.takeDeleteCandidates(FAR_FUTURE), []);
    assert.deepEqual([...await catalog.blockMap(killed.uid)], [id, 0]);
  });

  test("a blob a backup recorded but its committed map does not use becomes a cleanup candidate", async ({ catalog }) => {
    const running = await catalog.createVersion(newVersion());
    const [first, second] = await catalog.addRefs([blob("before-kill", "old"), blob("after-kill", "new")], running.uid);
    await catalog.commitVersion(running.uid, Uint32Array.of(second));
    assert.deepEqual(uidsOf(await catalog.takeDeleteCandidates(FAR_FUTURE)), ["before-kill"]);
    const counts = await catalog.referenceCounts();
    assert.equal(counts.get(second), 1);
    assert.equal(counts.get(first) ?? 0, 0);
  });

  test("a full cleanup keeps what a version, a draft or a claim uses, and forgets the freed blobs", async ({ catalog }) => {
    const version = (size: number) => catalog.createVersion(newVersion(size));
    const [kept, freed, drafted] = await catalog.addRefs([blob("kept", "1"), blob("freed", "2"), blob("drafted", "3")]);
    await catalog.commitVersion((await version(1)).uid, Uint32Array.of(kept));
    const removed = await version(1);
    await catalog.commitVersion(removed.uid, Uint32Array.of(freed));
    await catalog.removeVersion(removed.uid);
    const killed = await version(2);
    await catalog.addRefs([blob("claimed", "4")], killed.uid);
    await catalog.saveDraft(killed.uid, Uint32Array.of(drafted, 0));
    const used = ["claimed", "drafted", "kept"];
    assert.deepEqual([...await catalog.usedBlobUids()].sort(), used, "the delete candidate is not in use");
    assert.deepEqual([...await catalog.usedBlobUids("k")], ["kept"]);
    assert.deepEqual([...await catalog.dropUnusedBlobs("x")], []);
    assert.deepEqual([...await catalog.dropUnusedBlobs()].sort(), used);
    assert.deepEqual(await catalog.findDedup([{ checksum: "2", size: 4096 }, { checksum: "1", size: 4096 }], [0]), [
      null,
      (await catalog.refs([kept])).get(kept),
    ]);
    assert.deepEqual(await catalog.takeDeleteCandidates(FAR_FUTURE), [], "no candidate is left for a fast cleanup");
  });

  test("deduplication looks up a window at once, prefers the first codec, else the oldest", async ({ catalog }) => {
    const [plain, encrypted, zstd] = await catalog.addRefs([
      blob("p", "sum"),
      blob("e", "sum", { encVersion: 1 }),
      blob("z", "sum", { encVersion: 2, storedSize: 900 }),
    ]);
    const find = async (codecs: number[], size = 4096) =>
      (await catalog.findDedup([{ checksum: "sum", size }, { checksum: "other", size }], codecs))
        .map((ref) => ref?.id ?? null);
    assert.deepEqual(await find([2, 0, 1]), [zstd, null]);
    assert.deepEqual(await find([1]), [encrypted, null]);
    assert.deepEqual(await find([3, 1, 0]), [plain, null], "the oldest of the others");
    assert.deepEqual(await find([]), [null, null]);
    assert.deepEqual(await find([0], 4095), [null, null], "another size");
    const refs = await catalog.refs([plain, encrypted, zstd, 12345]);
    assert.deepEqual([plain, encrypted, zstd].map((id) => refs.get(id)?.storedSize), [4096, null, 900]);
    assert.equal(refs.has(12345), false);
  });

  test("dedup claims and fast cleanups race from two connections: a claimed blob is never deleted", async (fx) => {
    const other = await fx.another();
    try {
      for (let round = 0; round < 20; round++) {
        const [id] = await fx.catalog.addRefs([blob(`r${round}`, `sum${round}`)]);
        const old = await fx.catalog.createVersion(newVersion());
        await fx.catalog.commitVersion(old.uid, Uint32Array.of(id));
        const running = await fx.catalog.createVersion(newVersion());
        await fx.catalog.removeVersion(old.uid);
        const [[claimed], deleted] = await Promise.all([
          fx.catalog.findDedup([{ checksum: `sum${round}`, size: 4096 }], [0], running.uid),
          other.takeDeleteCandidates(FAR_FUTURE),
        ]);
        await other.forgetDeleted(deleted.map((candidate) => candidate.uid));
        const wasDeleted = deleted.some((candidate) => candidate.uid === `r${round}`);
        assert.ok(!(claimed && wasDeleted), `round ${round}: a claimed blob was handed to a cleanup`);
        assert.ok(claimed || wasDeleted, `round ${round}: the blob was neither claimed nor deleted`);
        if (claimed) {
          await fx.catalog.commitVersion(running.uid, Uint32Array.of(claimed.id));
          assert.deepEqual(await other.takeDeleteCandidates(FAR_FUTURE), []);
        }
        await fx.catalog.removeVersion(running.uid);
        await other.forgetDeleted((await other.takeDeleteCandidates(FAR_FUTURE)).map((candidate) => candidate.uid));
      }
    } finally {
      await other.close();
    }
  });

  test("an invalidated blob is never found for deduplication again; its versions turn invalid", async ({ catalog }) => {
    const [id] = await catalog.addRefs([blob("bad", "sum")]);
    const v = await catalog.createVersion(newVersion());
    await catalog.commitVersion(v.uid, Uint32Array.of(id));
    const key = { checksum: "sum", size: 4096 };
    assert.equal((await catalog.findDedup([key], [0]))[0]?.uid, "bad");
    assert.deepEqual(await catalog.invalidate("bad", "sum"), [v.uid]);
    assert.equal((await catalog.getVersion(v.uid)).valid, false);
    assert.deepEqual([...await catalog.invalidRefIds()], [id]);
    assert.equal((await catalog.irregularRefs(4096)).get(id)?.valid, false);
    const running = await catalog.createVersion(newVersion());
    assert.deepEqual(await catalog.findDedup([key], [0]), [null]);
    assert.deepEqual(await catalog.findDedup([key], [0], running.uid), [null]);
    await catalog.commitVersion(running.uid, Uint32Array.of(id));
    assert.equal((await catalog.getVersion(running.uid)).valid, false, "a commit onto a bad blob stays invalid");
    await catalog.revalidate([id]);
    assert.deepEqual([...await catalog.invalidRefIds()], []);
  });

  test("an imported version exports its blocks as given and shares references between equal blocks", async ({ catalog }) => {
    const blocks = [
      block(0, "a"),
      block(1, null),
      block(2, "a", { date: "2026-11-26 15:04:53.000001" }),
      block(3, "e", { encVersion: 1, encEnvkey: "k", encNonce: "n", valid: false }),
      block(4, "z", { encVersion: 2, storedSize: 1234 }),
    ];
    const v = imported("v1", 5, { protected: true, valid: false, expire: "2021-03-04 05:06:07.000000", tags: ["x"] });
    await catalog.importVersion(v, blocks);
    const storedSizes = [4096, null, 4096, null, 1234];
    assert.deepEqual(await catalog.exportBlocks("v1"), blocks.map((b, i) => ({ ...b, storedSize: storedSizes[i] })));
    assert.deepEqual(await catalog.getVersion("v1"), { ...v, inProgress: false, blockSize: null, hashFunction: null });
    const map = await catalog.blockMap("v1");
    assert.equal(map[0], map[2]);
    assert.equal((await catalog.referenceCounts()).get(map[0]), 2);
    assert.equal((await catalog.refs([map[3]])).get(map[3])?.valid, false);
  });

  test("imports reuse the references of backups and of each other, and free them on removal", async ({ catalog }) => {
    const [id] = await catalog.addRefs([blob("a", "sum-a")]);
    await catalog.importVersion(imported("v1", 2), [block(0, "a"), block(1, "b")]);
    await catalog.importVersion(imported("v2", 2), [block(0, "b"), block(1, "a")]);
    assert.equal((await catalog.blockMap("v1"))[0], id);
    assert.deepEqual([...await catalog.blockMap("v2")].reverse(), [...await catalog.blockMap("v1")]);
    assert.equal(await catalog.removeVersion("v1"), 2);
    assert.deepEqual(await catalog.takeDeleteCandidates(FAR_FUTURE), []);
    assert.equal(await catalog.removeVersion("v2"), 2);
    assert.deepEqual(uidsOf(await catalog.takeDeleteCandidates(FAR_FUTURE)), ["a", "b"]);
  });

  test("an incomplete import keeps its gaps; an existing uid is refused and nothing changes", async ({ catalog }) => {
    await catalog.importVersion(imported("v1", 3), [block(0, "a"), block(2, "c")]);
    assert.deepEqual((await catalog.exportBlocks("v1")).map((b) => b.id), [0, 2]);
    assert.equal((await catalog.blockMap("v1"))[1], 0);
    assert.equal(await catalog.removeVersion("v1"), 2);
    await catalog.importVersion(imported("v2", 1), [block(0, "a")]);
    await assert.rejects(catalog.importVersion(imported("v2", 1), [block(0, "z")]), {
      name: "BackyError",
      message: "Version v2 already exists and cannot be imported.",
      quoted: true,
      exitCode: 22,
    });
    await assert.rejects(catalog.importVersion(imported("v3", 1), [block(0, "y"), block(0, "z")]), BackyError);
    assert.deepEqual((await catalog.listVersions()).map((v) => v.uid), ["v2"]);
    const uids = [...(await catalog.irregularRefs(0)).values()].map((ref) => ref.uid).sort();
    assert.deepEqual(uids, ["a", "c"], "no reference of the refused imports");
  });

  test("a transaction commits everything or, when its work throws, nothing", async ({ catalog }) => {
    await assert.rejects(
      catalog.withTransaction(async (tx) => {
        await tx.importVersion(imported("v1", 1), [block(0, "a")]);
        await tx.importStats([statsRow("v1", "2026-11-26 15:04:52")]);
        throw new Error("stop");
      }),
      /stop/,
    );
    assert.deepEqual(await catalog.listVersions(), []);
    assert.deepEqual(await catalog.listStats({}), []);
    assert.equal((await catalog.irregularRefs(0)).size, 0, "no reference of the rolled back import");
    await catalog.withTransaction(async (tx) => {
      await tx.importVersion(imported("v1", 1), [block(0, "a")]);
      await tx.importStats([statsRow("v1", "2026-11-26 15:04:52")]);
    });
    assert.equal((await catalog.listVersions()).length, 1);
    assert.equal((await catalog.listStats({})).length, 1);
  });

  test("stats rows keep their dates and order; listings are limited to the newest", async ({ catalog }) => {
    const rows = [
      statsRow("a", "2026-11-26 15:04:52"),
      statsRow("b", "2026-11-26 15:04:52"),
      statsRow("c", "2026-11-26 15:04:53", 7),
    ];
    await catalog.importStats(rows);
    assert.deepEqual(await catalog.listStats({}), [rows[1], rows[0], rows[2]]);
    assert.deepEqual(await catalog.listStats({ limit: 1 }), [rows[2]]);
    assert.deepEqual(await catalog.listStats({ limit: 0 }), []);
    assert.deepEqual(await catalog.listStats({ versionUid: "c" }), [rows[2]]);
    await catalog.insertStats({ ...statsRow("d", ""), bytesStored: undefined });
    const [last] = await catalog.listStats({ versionUid: "d" });
    assert.match(last.date, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
    assert.equal(last.bytesStored, null);
    await catalog.addRefs([blob("x", "1"), blob("y", "2", { size: 100 })]);
    assert.equal(await catalog.storeBytes(), 4196);
  });

  test("rekey rewraps the keys of one encryption version, and changes nothing when a rewrap fails", async ({ catalog }) => {
    const encrypted = { encVersion: 1, encEnvkey: "k1" };
    await catalog.addRefs([blob("e1", "1", encrypted), blob("e2", "2", encrypted), blob("p", "3")]);
    await catalog.sparseRef(4096);
    const key = async () => (await catalog.findDedup([{ checksum: "1", size: 4096 }], [1]))[0]?.encEnvkey;
    const failOnE2 = (envkey: string | null, uid: string) => {
      if (uid === "e2") throw new Error("wrong key");
      return `${envkey}+${uid}`;
    };
    await assert.rejects(catalog.rewrapEnvkeys(1, failOnE2), /wrong key/);
    assert.equal(await key(), "k1", "the failed rekey changed nothing");
    const counts = await catalog.rewrapEnvkeys(1, (envkey, uid) => `${envkey}+${uid}`);
    assert.deepEqual(counts, { rekeyed: 2, sparse: 1, otherVersion: 1, total: 4 });
    assert.equal(await key(), "k1+e1");
  });

  pageObjectChecks(test);
}
