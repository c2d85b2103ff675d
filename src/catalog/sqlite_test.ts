/**
 * The catalog conformance suite on the SQLite catalog, and what only SQLite has: migrations of older schemas.
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { catalogConformance } from "./conformance.ts";
import { openSqliteCatalog } from "./sqlite/catalog.ts";
import { blob } from "./conformance.ts";

function tempPath(): { dir: string; path: string } {
  const dir = Deno.makeTempDirSync({ prefix: "backy2-sqlite-catalog-test-" });
  return { dir, path: `${dir}/c.sqlite` };
}

const open = (path: string, create = true) => openSqliteCatalog(path, { engine: "test", create });

catalogConformance("sqlite", () => {
  const { dir, path } = tempPath();
  const catalog = open(path);
  const others: { close(): Promise<void> }[] = [];
  return Promise.resolve({
    catalog,
    another: () => {
      const other = open(path, false);
      others.push(other);
      return Promise.resolve(other);
    },
    destroy: async () => {
      await catalog.close();
      for (const other of others) await other.close().catch(() => {});
      Deno.removeSync(dir, { recursive: true });
    },
  });
});

Deno.test("sqlite: a catalog from before stored sizes gets them for plain blobs, unknown for the others", async () => {
  const { dir, path } = tempPath();
  try {
    const catalog = open(path);
    const ids = await catalog.addRefs([blob("p", "sum"), blob("e", "sum", { encVersion: 1 })]);
    const sparse = await catalog.sparseRef(4096);
    await catalog.close();
    const db = new DatabaseSync(path);
    db.exec(
      "ALTER TABLE blobs DROP COLUMN stored_size; ALTER TABLE stats DROP COLUMN bytes_stored; " +
        "ALTER TABLE pages DROP COLUMN object; DROP INDEX blobs_invalid; " +
        "UPDATE meta SET value = '3' WHERE key = 'schema_version'",
    );
    db.close();
    const reopened = open(path);
    try {
      const refs = await reopened.refs([...ids, sparse]);
      assert.deepEqual([...ids, sparse].map((id) => refs.get(id)?.storedSize), [4096, null, null]);
      assert.deepEqual(await reopened.listStats({}), []);
    } finally {
      await reopened.close();
    }
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("sqlite: a catalog of a newer schema is refused with one line, and stays as it was", async () => {
  const { dir, path } = tempPath();
  try {
    await open(path).close();
    const db = new DatabaseSync(path);
    db.exec("UPDATE meta SET value = '99' WHERE key = 'schema_version'");
    db.close();
    assert.throws(() => open(path, false), /has schema version 99, newer than this backy2 knows/);
    const check = new DatabaseSync(path, { readOnly: true });
    assert.equal((check.prepare("SELECT value FROM meta").get() as { value: string }).value, "99");
    check.close();
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
