/**
 * Unit tests of the catalog's import API (`importVersion`, `exportBlocks`, `importStats`): shared references,
 * block dates, flags, incomplete versions, refusal of an existing uid, and cleanup after removal.
 */
import { assert, assertEquals, assertThrows } from "../output/test_assert.ts";
import { SqliteCatalog } from "./sqlite.ts";
import type { BlockRecord, ImportedVersion, StatsRow } from "./catalog.ts";
import { BackyError } from "../util/errors.ts";

const DATE = "2026-11-26 15:04:52.082034";
const FAR_FUTURE = 2 ** 40;

function withCatalog(fn: (catalog: SqliteCatalog) => void): void {
  const dir = Deno.makeTempDirSync();
  const catalog = SqliteCatalog.open(`${dir}/c.sqlite`, { engine: "test", create: true });
  try {
    fn(catalog);
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

Deno.test("an imported version exports its blocks as given and shares references between equal blocks", () => {
  withCatalog((catalog) => {
    const blocks = [
      block(0, "a"),
      block(1, null),
      block(2, "a", { date: "2026-11-26 15:04:53.000001" }),
      block(3, "e", { encVersion: 1, encEnvkey: "k", encNonce: "n", valid: false }),
    ];
    const v = version("v1", 4, { protected: true, valid: false, expire: "2021-03-04 05:06:07.000000", tags: ["x"] });
    catalog.importVersion(v, blocks);
    assertEquals(catalog.exportBlocks("v1"), blocks);
    const listed = catalog.getVersion("v1");
    assertEquals(listed, { ...v, inProgress: false, blockSize: null, hashFunction: null });
    const map = catalog.blockMap("v1");
    assertEquals(map[0], map[2]);
    assertEquals(catalog.referenceCounts().get(map[0]), 2);
    assertEquals(catalog.refs([map[3]]).get(map[3])?.valid, false);
  });
});

Deno.test("imports reuse the references of backups and of each other, and free them on removal", () => {
  withCatalog((catalog) => {
    const [id] = catalog.addRefs([{
      uid: "a",
      checksum: "sum-a",
      size: 4096,
      encVersion: 0,
      encEnvkey: null,
      encNonce: null,
    }]);
    catalog.importVersion(version("v1", 2), [block(0, "a"), block(1, "b")]);
    catalog.importVersion(version("v2", 2), [block(0, "b"), block(1, "a")]);
    assertEquals(catalog.blockMap("v1")[0], id);
    assertEquals([...catalog.blockMap("v2")].reverse(), [...catalog.blockMap("v1")]);
    assertEquals(catalog.removeVersion("v1"), 2);
    assertEquals(catalog.takeDeleteCandidates(FAR_FUTURE), []);
    assertEquals(catalog.removeVersion("v2"), 2);
    assertEquals(catalog.takeDeleteCandidates(FAR_FUTURE).map((c) => c.uid).sort(), ["a", "b"]);
  });
});

Deno.test("an incomplete imported version keeps its gaps; an existing uid is refused and nothing changes", () => {
  withCatalog((catalog) => {
    catalog.importVersion(version("v1", 3), [block(0, "a"), block(2, "c")]);
    assertEquals(catalog.exportBlocks("v1").map((b) => b.id), [0, 2]);
    assertEquals(catalog.blockMap("v1")[1], 0);
    assertEquals(catalog.removeVersion("v1"), 2);
    catalog.importVersion(version("v2", 1), [block(0, "a")]);
    const error = assertThrows(() => catalog.importVersion(version("v2", 1), [block(0, "z")]), BackyError);
    assertEquals([error.render(), error.exitCode], ["'Version v2 already exists and cannot be imported.'", 22]);
    assertThrows(() => catalog.importVersion(version("v3", 1), [block(0, "y"), block(0, "z")]), BackyError);
    assertEquals(catalog.listVersions().map((v) => v.uid), ["v2"]);
    // irregularRefs(0) lists every reference (none is 0 bytes long).
    const uids = [...catalog.irregularRefs(0).values()].map((ref) => ref.uid).sort();
    assertEquals(uids, ["a", "c"], "no reference of the refused imports");
  });
});

Deno.test("imported stats rows keep their dates and order", () => {
  withCatalog((catalog) => {
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
    });
    const rows = [row("a", "2026-11-26 15:04:52"), row("b", "2026-11-26 15:04:52"), row("c", "2026-11-26 15:04:53")];
    catalog.importStats(rows);
    assertEquals(catalog.listStats({}), [rows[1], rows[0], rows[2]]);
    assert(catalog.listStats({ versionUid: "c" }).length === 1);
  });
});
