/**
 * The catalog suite's part about page objects (conformance.ts runs it on every backend): which page object
 * each committed block-map page has, kept with the page, forgotten by a rekey; and the block dates of imports.
 */
import assert from "node:assert/strict";
import { blob, type CatalogTest } from "./conformance.ts";
import { PAGE_ENTRIES, toPages } from "./block_pages.ts";

const LAYOUT = { name: "a", snapshotName: "", blockSize: 4096, hashFunction: "sha512" };
const DATE = "2026-11-26 15:04:52.082034";
const name = (byte: number) => new Uint8Array(32).fill(byte);

export function pageObjectChecks(test: CatalogTest): void {
  test("page objects are recorded per committed page, shared by equal pages and gone with them", async ({ catalog }) => {
    const ids = await catalog.addRefs(Array.from({ length: PAGE_ENTRIES + 1 }, (_, i) => blob(`u${i}`, `c${i}`)));
    const map = Uint32Array.from(ids);
    const hashes = (await toPages(map)).map((page) => page.hash);
    assert.deepEqual(await catalog.pageObjects(hashes), [null, null], "no such pages yet");
    await catalog.setPageObjects([{ hash: hashes[0], object: name(1) }]);
    assert.deepEqual(await catalog.pageObjects(hashes), [null, null], "a page the catalog lacks is left out");
    const a = await catalog.createVersion({ ...LAYOUT, size: map.length, sizeBytes: map.length * 4096 });
    await catalog.commitVersion(a.uid, map);
    await catalog.setPageObjects([{ hash: hashes[1], object: name(2) }, { hash: hashes[1], object: name(2) }]);
    assert.deepEqual(await catalog.pageObjects(hashes), [null, name(2)]);
    const b = await catalog.createVersion({ ...LAYOUT, size: map.length, sizeBytes: map.length * 4096 });
    await catalog.commitVersion(b.uid, map);
    assert.deepEqual(await catalog.pageObjects(hashes), [null, name(2)], "b shares a's pages and their objects");
    await catalog.removeVersion(a.uid);
    assert.deepEqual(await catalog.pageObjects(hashes), [null, name(2)]);
    await catalog.removeVersion(b.uid);
    assert.deepEqual(await catalog.pageObjects(hashes), [null, null]);
  });

  test("a rekey that rewraps any envkey forgets every page object; one that rewraps none keeps them", async ({ catalog }) => {
    const ids = await catalog.addRefs([blob("e1", "1", { encVersion: 1, encEnvkey: "k1" }), blob("p", "2")]);
    const map = Uint32Array.from(ids);
    const [page] = await toPages(map);
    const v = await catalog.createVersion({ ...LAYOUT, size: 2, sizeBytes: 8192 });
    await catalog.commitVersion(v.uid, map);
    await catalog.setPageObjects([{ hash: page.hash, object: name(7) }]);
    await catalog.rewrapEnvkeys(9, (envkey) => `${envkey}+`);
    assert.deepEqual(await catalog.pageObjects([page.hash]), [name(7)]);
    await catalog.rewrapEnvkeys(1, (envkey) => `${envkey}+`);
    assert.deepEqual(await catalog.pageObjects([page.hash]), [null]);
  });

  test("block dates: the imported blocks recorded at another date than their version's, by id", async ({ catalog }) => {
    const version = { uid: "v1", date: DATE, expire: null, valid: true, protected: false, tags: [], ...LAYOUT };
    const block = (id: number, date: string) => ({
      ...blob(`u${id}`, `c${id}`),
      id,
      valid: true,
      date,
    });
    await catalog.importVersion({ ...version, size: 3, sizeBytes: 3 * 4096 }, [
      block(2, "2020-01-01 00:00:00.000000"),
      block(0, "2019-01-01 00:00:00.000000"),
      block(1, DATE),
    ]);
    assert.deepEqual(await catalog.blockDates("v1"), [[0, "2019-01-01 00:00:00.000000"], [
      2,
      "2020-01-01 00:00:00.000000",
    ]]);
    await assert.rejects(catalog.blockDates("nope"), /Version nope not found/);
  });
}
