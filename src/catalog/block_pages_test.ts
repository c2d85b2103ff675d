/** Unit tests of the block-map page format: little-endian ids, fixed-size pages, SHA-256 content keys. */
import assert from "node:assert/strict";
import { sha256 } from "../util/sha256.ts";
import { countIds, packIds, PAGE_ENTRIES, toPages, unpackIds } from "./block_pages.ts";

Deno.test("a map is cut into pages of PAGE_ENTRIES ids, each keyed by the SHA-256 of its bytes", () => {
  const map = Uint32Array.from({ length: 2 * PAGE_ENTRIES + 5 }, (_, i) => (i * 2654435761) >>> 0);
  const pages = toPages(map);
  assert.deepEqual(pages.map((page) => page.bytes.length), [PAGE_ENTRIES * 4, PAGE_ENTRIES * 4, 20]);
  for (const page of pages) assert.deepEqual([...page.hash], [...sha256(page.bytes)]);
  assert.deepEqual([...pages.flatMap((page) => [...unpackIds(page.bytes)])], [...map]);
  assert.deepEqual([...packIds(Uint32Array.of(0x01020304)).values()], [4, 3, 2, 1]);
});

Deno.test("countIds counts every nonzero id of a page, runs and scattered ids alike", () => {
  const ids = Uint32Array.from({ length: 1024 }, (_, i) => (i % 7 === 0 ? 0 : i % 5 === 0 ? 1000 + i : 3));
  const expected = new Map<number, number>([[99, 1]]);
  for (const id of ids) if (id !== 0) expected.set(id, (expected.get(id) ?? 0) + 1);
  const counts = new Map<number, number>([[99, 1]]);
  countIds(ids, counts);
  assert.deepEqual([...counts].sort((a, b) => a[0] - b[0]), [...expected].sort((a, b) => a[0] - b[0]));
  countIds(new Uint32Array(0), counts);
  countIds(new Uint32Array(5).fill(3), counts);
  assert.deepEqual(counts.get(3), expected.get(3)! + 5);
});
