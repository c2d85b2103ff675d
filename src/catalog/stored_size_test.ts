/**
 * Unit tests of the catalog's stored sizes: what a backup records, what a plain blob gets when none is given,
 * the migration of a catalog made before they were recorded, and deduplication across codecs.
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { SqliteCatalog } from "./sqlite.ts";
import type { NewBlobRef } from "./catalog.ts";

/** Runs `fn` with a catalog file in a fresh directory; `fn` opens and closes it (see {@link open}). */
function withPath(fn: (path: string) => void): void {
  const dir = Deno.makeTempDirSync({ prefix: "backy2-stored-size-test-" });
  try {
    fn(`${dir}/c.sqlite`);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
}

function open(path: string): SqliteCatalog {
  return SqliteCatalog.open(path, { engine: "test", create: true });
}

function withCatalog(fn: (catalog: SqliteCatalog) => void): void {
  withPath((path) => {
    const catalog = open(path);
    try {
      fn(catalog);
    } finally {
      catalog.close();
    }
  });
}

function blob(uid: string, encVersion: number, storedSize?: number): NewBlobRef {
  return { uid, checksum: "sum", size: 4096, encVersion, encEnvkey: null, encNonce: null, storedSize };
}

Deno.test("references keep the stored size given; a plain blob's defaults to its size, others stay unknown", () => {
  withCatalog((catalog) => {
    const ids = catalog.addRefs([blob("z", 2, 1000), blob("p", 0), blob("e", 1), blob("q", 0, 4096)]);
    const refs = catalog.refs(ids);
    assert.deepEqual(ids.map((id) => refs.get(id)?.storedSize), [1000, 4096, null, 4096]);
  });
});

Deno.test("a catalog from before stored sizes gets them for plain blobs, unknown for the others", () => {
  withPath((path) => {
    const catalog = open(path);
    const ids = catalog.addRefs([blob("p", 0), blob("e", 1)]);
    const sparse = catalog.sparseRef(4096);
    catalog.close();
    const db = new DatabaseSync(path);
    db.exec(
      "ALTER TABLE blobs DROP COLUMN stored_size; ALTER TABLE stats DROP COLUMN bytes_stored; " +
        "UPDATE meta SET value = '3' WHERE key = 'schema_version'",
    );
    db.close();
    const reopened = open(path);
    try {
      const refs = reopened.refs([...ids, sparse]);
      assert.deepEqual([...ids, sparse].map((id) => refs.get(id)?.storedSize), [4096, null, null]);
      assert.deepEqual(reopened.listStats({}), []);
    } finally {
      reopened.close();
    }
  });
});

Deno.test("deduplication finds a blob of any allowed codec, the preferred one first, else the oldest", () => {
  withCatalog((catalog) => {
    const [plain, encrypted, zstd] = catalog.addRefs([blob("p", 0), blob("e", 1), blob("z", 2, 900)]);
    assert.equal(catalog.findDedup("sum", 4096, [2, 0, 1])?.id, zstd);
    assert.equal(catalog.findDedup("sum", 4096, [1])?.id, encrypted);
    assert.equal(catalog.findDedup("sum", 4096, [0, 1])?.id, plain);
    assert.equal(catalog.findDedup("sum", 4096, [3, 1, 0])?.id, plain, "the oldest of the others");
    assert.equal(catalog.findDedup("sum", 4096, []), null);
    assert.equal(catalog.findDedup("sum", 4095, [0, 1, 2]), null, "another size");
  });
});
