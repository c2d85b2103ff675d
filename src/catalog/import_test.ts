/**
 * Unit tests of the catalog's import API (`importVersion`, `exportBlocks`, `importStats`): shared references,
 * block dates, flags, incomplete versions, refusal of an existing uid, and cleanup after removal.
 */
import assert from "node:assert/strict";
import { SqliteCatalog } from "./sqlite.ts";
import type { BlockRecord, ImportedVersion, StatsRow } from "./catalog.ts";
import { BackyError } from "../util/errors.ts";

const DATE = "2026-11-26 15:04:52.082034";
const FAR_FUTURE = 2 ** 40;

async function withCatalog(fn: (catalog: SqliteCatalog) => void | Promise<void>): Promise<void> {
  const dir = Deno.makeTempDirSync();
  const catalog = SqliteCatalog.open(`${dir}/c.sqlite`, { engine: "test", create: true });
  try {
    await fn(catalog);
  } finally {
    catalog.close();
    Deno.removeSync(dir, { recursive: true });
  }
}

function version(uid: string, size: number, fields: Partial<ImportedVersion> = {}): ImportedVersion {
  return {
    uid,
    date: DATE,
    expire: null,
    name: "vm",
    snapshotName: "",
    size,
    sizeBytes: size * 4096,
    valid: true,
    protected: false,
    tags: [],
    ...fields,
  };
}

function block(id: number, uid: string | null, fields: Partial<BlockRecord> = {}): BlockRecord {
  return {
    id,
    uid,
    checksum: uid === null ? null : `sum-${uid}`,
    size: 4096,
    valid: true,
    encVersion: 0,
    encEnvkey: null,
    encNonce: null,
    date: DATE,
    ...fields,
  };
}

Deno.test("an imported version exports its blocks as given and shares references between equal blocks", async () => {
  await withCatalog(async (catalog) => {
    const blocks = [
      block(0, "a"),
      block(1, null),
      block(2, "a", { date: "2026-11-26 15:04:53.000001" }),
      block(3, "e", { encVersion: 1, encEnvkey: "k", encNonce: "n", valid: false }),
      block(4, "z", { encVersion: 2, storedSize: 1234 }),
    ];
    const v = version("v1", 5, { protected: true, valid: false, expire: "2021-03-04 05:06:07.000000", tags: ["x"] });
    await catalog.importVersion(v, blocks);
    // A stored size not given is a plain blob's own size, else unknown.
    const storedSizes = [4096, null, 4096, null, 1234];
    assert.deepEqual(catalog.exportBlocks("v1"), blocks.map((b, i) => ({ ...b, storedSize: storedSizes[i] })));
    const listed = catalog.getVersion("v1");
    assert.deepEqual(listed, { ...v, inProgress: false, blockSize: null, hashFunction: null });
    const map = catalog.blockMap("v1");
    assert.deepEqual(map[0], map[2]);
    assert.equal(catalog.referenceCounts().get(map[0]), 2);
    assert.equal(catalog.refs([map[3]]).get(map[3])?.valid, false);
  });
});

Deno.test("imports reuse the references of backups and of each other, and free them on removal", async () => {
  await withCatalog(async (catalog) => {
    const [id] = catalog.addRefs([{
      uid: "a",
      checksum: "sum-a",
      size: 4096,
      encVersion: 0,
      encEnvkey: null,
      encNonce: null,
    }]);
    await catalog.importVersion(version("v1", 2), [block(0, "a"), block(1, "b")]);
    await catalog.importVersion(version("v2", 2), [block(0, "b"), block(1, "a")]);
    assert.deepEqual(catalog.blockMap("v1")[0], id);
    assert.deepEqual([...catalog.blockMap("v2")].reverse(), [...catalog.blockMap("v1")]);
    assert.equal(catalog.removeVersion("v1"), 2);
    assert.deepEqual(catalog.takeDeleteCandidates(FAR_FUTURE), []);
    assert.equal(catalog.removeVersion("v2"), 2);
    assert.deepEqual(catalog.takeDeleteCandidates(FAR_FUTURE).map((c) => c.uid).sort(), ["a", "b"]);
  });
});

Deno.test("an incomplete imported version keeps its gaps; an existing uid is refused and nothing changes", async () => {
  await withCatalog(async (catalog) => {
    await catalog.importVersion(version("v1", 3), [block(0, "a"), block(2, "c")]);
    assert.deepEqual(catalog.exportBlocks("v1").map((b) => b.id), [0, 2]);
    assert.equal(catalog.blockMap("v1")[1], 0);
    assert.equal(catalog.removeVersion("v1"), 2);
    await catalog.importVersion(version("v2", 1), [block(0, "a")]);
    await assert.rejects(catalog.importVersion(version("v2", 1), [block(0, "z")]), {
      name: "BackyError",
      message: "Version v2 already exists and cannot be imported.",
      quoted: true,
      exitCode: 22,
    });
    await assert.rejects(catalog.importVersion(version("v3", 1), [block(0, "y"), block(0, "z")]), BackyError);
    assert.deepEqual(catalog.listVersions().map((v) => v.uid), ["v2"]);
    // irregularRefs(0) lists every reference (none is 0 bytes long).
    const uids = [...catalog.irregularRefs(0).values()].map((ref) => ref.uid).sort();
    assert.deepEqual(uids, ["a", "c"], "no reference of the refused imports");
  });
});

Deno.test("an import inside a synchronous transaction is refused before it changes anything", async () => {
  await withCatalog(async (catalog) => {
    const inside = catalog.atomically(() => catalog.importVersion(version("v1", 1), [block(0, "a")]));
    await assert.rejects(inside, /a transaction that awaits cannot run inside a synchronous one/);
    assert.deepEqual(catalog.listVersions(), []);
    assert.equal(catalog.irregularRefs(0).size, 0, "no reference of the refused import");
  });
});

Deno.test("imported stats rows keep their dates and order", async () => {
  await withCatalog((catalog) => {
    const row = (versionUid: string, date: string): StatsRow => ({
      date,
      versionUid,
      versionName: "vm",
      versionSizeBytes: 1,
      versionSizeBlocks: 1,
      bytesRead: 1,
      blocksRead: 1,
      bytesWritten: 1,
      blocksWritten: 1,
      bytesFoundDedup: 0,
      blocksFoundDedup: 0,
      bytesSparse: 0,
      blocksSparse: 0,
      durationSeconds: 3,
      bytesStored: versionUid === "c" ? 7 : null,
    });
    const rows = [row("a", "2026-11-26 15:04:52"), row("b", "2026-11-26 15:04:52"), row("c", "2026-11-26 15:04:53")];
    catalog.importStats(rows);
    assert.deepEqual(catalog.listStats({}), [rows[1], rows[0], rows[2]]);
    assert.ok(catalog.listStats({ versionUid: "c" }).length === 1);
  });
});
