/**
 * Unit tests of the SQLite catalog's invariants: block maps survive commit and removal with shared pages, and
 * a blob a running backup claimed for deduplication is never handed to a cleanup.
 */
import assert from "node:assert/strict";
import { SqliteCatalog } from "./sqlite.ts";
import type { NewBlobRef } from "./catalog.ts";

function open(): { catalog: SqliteCatalog; dir: string } {
  const dir = Deno.makeTempDirSync();
  return { catalog: SqliteCatalog.open(`${dir}/c.sqlite`, { engine: "test", create: true }), dir };
}

function blob(uid: string, checksum: string): NewBlobRef {
  return { uid, checksum, size: 4096, encVersion: 0, encEnvkey: null, encNonce: null };
}

const FAR_FUTURE = 2 ** 40;
const LAYOUT = { blockSize: 4096, hashFunction: "sha512" };

Deno.test("a committed block map reads back across pages, and identical pages are shared", async () => {
  const { catalog, dir } = open();
  const ids = catalog.addRefs(Array.from({ length: 3000 }, (_, i) => blob(`u${i}`, `c${i}`)));
  const a = catalog.createVersion({ name: "a", snapshotName: "", size: 3000, sizeBytes: 3000 * 4096, ...LAYOUT });
  await catalog.commitVersion(a.uid, Uint32Array.from(ids));
  const b = catalog.createVersion({ name: "a", snapshotName: "", size: 3000, sizeBytes: 3000 * 4096, ...LAYOUT });
  await catalog.commitVersion(b.uid, Uint32Array.from(ids));
  assert.deepEqual([...catalog.blockMap(b.uid)], ids);
  assert.equal(catalog.getVersion(b.uid).valid, true);
  assert.equal(catalog.referenceCounts().get(ids[2999]), 2);
  assert.equal(catalog.removeVersion(a.uid), 3000);
  assert.deepEqual([...catalog.blockMap(b.uid)], ids);
  assert.equal(catalog.takeDeleteCandidates(FAR_FUTURE).length, 0);
  catalog.close();
  Deno.removeSync(dir, { recursive: true });
});

Deno.test("removing the last version using a blob makes it a cleanup candidate", async () => {
  const { catalog, dir } = open();
  const [id] = catalog.addRefs([blob("only", "sum")]);
  const v = catalog.createVersion({ name: "a", snapshotName: "", size: 1, sizeBytes: 4096, ...LAYOUT });
  await catalog.commitVersion(v.uid, Uint32Array.of(id));
  catalog.removeVersion(v.uid);
  assert.deepEqual(catalog.takeDeleteCandidates(FAR_FUTURE).map((c) => c.uid), ["only"]);
  assert.equal(catalog.findDedup("sum", 4096, [0]), null);
  catalog.close();
  Deno.removeSync(dir, { recursive: true });
});

Deno.test("a blob claimed by a running backup survives the removal of its last version and a cleanup", async () => {
  const { catalog, dir } = open();
  const [id] = catalog.addRefs([blob("shared", "sum")]);
  const old = catalog.createVersion({ name: "a", snapshotName: "", size: 1, sizeBytes: 4096, ...LAYOUT });
  await catalog.commitVersion(old.uid, Uint32Array.of(id));
  const running = catalog.createVersion({ name: "a", snapshotName: "", size: 1, sizeBytes: 4096, ...LAYOUT });
  assert.deepEqual(catalog.findDedup("sum", 4096, [0], running.uid)?.id, id);
  catalog.removeVersion(old.uid);
  assert.deepEqual(catalog.takeDeleteCandidates(FAR_FUTURE), []);
  await catalog.commitVersion(running.uid, Uint32Array.of(id));
  assert.deepEqual(catalog.takeDeleteCandidates(FAR_FUTURE), []);
  // Once the running backup's version is gone too, the blob is free.
  catalog.removeVersion(running.uid);
  assert.deepEqual(catalog.takeDeleteCandidates(FAR_FUTURE).map((c) => c.uid), ["shared"]);
  catalog.close();
  Deno.removeSync(dir, { recursive: true });
});

Deno.test("a blob only an unfinished backup's draft uses is not a cleanup candidate", async () => {
  const { catalog, dir } = open();
  const [id] = catalog.addRefs([blob("drafted", "sum")]);
  const old = catalog.createVersion({ name: "a", snapshotName: "", size: 1, sizeBytes: 4096, ...LAYOUT });
  await catalog.commitVersion(old.uid, Uint32Array.of(id));
  const killed = catalog.createVersion({ name: "a", snapshotName: "", size: 2, sizeBytes: 8192, ...LAYOUT });
  catalog.saveDraft(killed.uid, Uint32Array.of(id, 0));
  catalog.removeVersion(old.uid);
  assert.deepEqual(catalog.takeDeleteCandidates(FAR_FUTURE), []);
  assert.deepEqual([...catalog.blockMap(killed.uid)], [id, 0]);
  catalog.close();
  Deno.removeSync(dir, { recursive: true });
});

Deno.test("a blob a backup recorded but its committed map does not use becomes a cleanup candidate", async () => {
  const { catalog, dir } = open();
  const running = catalog.createVersion({ name: "a", snapshotName: "", size: 1, sizeBytes: 4096, ...LAYOUT });
  const [first, second] = catalog.addRefs([blob("before-kill", "old"), blob("after-kill", "new")], running.uid);
  await catalog.commitVersion(running.uid, Uint32Array.of(second));
  assert.deepEqual(catalog.takeDeleteCandidates(FAR_FUTURE).map((c) => c.uid), ["before-kill"]);
  assert.equal(catalog.referenceCounts().get(second), 1);
  assert.equal(catalog.referenceCounts().get(first) ?? 0, 0);
  catalog.close();
  Deno.removeSync(dir, { recursive: true });
});

Deno.test("a full cleanup keeps what a version, a draft or a claim uses, and forgets the freed blobs at once", async () => {
  const { catalog, dir } = open();
  const version = (size: number) =>
    catalog.createVersion({ name: "a", snapshotName: "", size, sizeBytes: size * 4096, ...LAYOUT });
  const [kept, freed, drafted] = catalog.addRefs([blob("kept", "1"), blob("freed", "2"), blob("drafted", "3")]);
  await catalog.commitVersion(version(1).uid, Uint32Array.of(kept));
  const removed = version(1);
  await catalog.commitVersion(removed.uid, Uint32Array.of(freed));
  catalog.removeVersion(removed.uid);
  const killed = version(2);
  catalog.addRefs([blob("claimed", "4")], killed.uid);
  catalog.saveDraft(killed.uid, Uint32Array.of(drafted, 0));

  const used = ["claimed", "drafted", "kept"];
  assert.deepEqual([...catalog.usedBlobUids()].sort(), used, "the delete candidate is not in use");
  assert.deepEqual([...catalog.usedBlobUids("k")], ["kept"]);
  assert.deepEqual([...catalog.dropUnusedBlobs("x")], []);
  assert.deepEqual([...catalog.dropUnusedBlobs()].sort(), used);
  assert.equal(catalog.findDedup("2", 4096, [0]), null, "no backup deduplicates onto the deleted blob");
  assert.equal(catalog.findDedup("1", 4096, [0])?.id, kept);
  assert.deepEqual(catalog.takeDeleteCandidates(FAR_FUTURE), [], "no candidate is left for a fast cleanup");
  catalog.close();
  Deno.removeSync(dir, { recursive: true });
});

Deno.test("an invalidated blob is never found for deduplication again, with or without a claim", async () => {
  const { catalog, dir } = open();
  const [id] = catalog.addRefs([blob("bad", "sum")]);
  const v = catalog.createVersion({ name: "a", snapshotName: "", size: 1, sizeBytes: 4096, ...LAYOUT });
  await catalog.commitVersion(v.uid, Uint32Array.of(id));
  assert.equal(catalog.findDedup("sum", 4096, [0])?.uid, "bad");
  assert.deepEqual(catalog.invalidate("bad", "sum"), [v.uid]);
  const running = catalog.createVersion({ name: "a", snapshotName: "", size: 1, sizeBytes: 4096, ...LAYOUT });
  assert.equal(catalog.findDedup("sum", 4096, [0]), null);
  assert.equal(catalog.findDedup("sum", 4096, [0], running.uid), null);
  catalog.close();
  Deno.removeSync(dir, { recursive: true });
});
