/** Unit tests of the block-map page format: little-endian ids, fixed-size pages, SHA-256 content keys. */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { countIds, packIds, PAGE_ENTRIES, toPages, unpackIds } from "./block_pages.ts";

const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");
const hex = (bytes: Uint8Array) => Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");

Deno.test("a map is cut into pages of PAGE_ENTRIES ids, each keyed by the SHA-256 of its bytes", async () => {
  const map = Uint32Array.from({ length: 2 * PAGE_ENTRIES + 5 }, (_, i) => (i * 2654435761) >>> 0);
  const pages = await toPages(map);
  assert.deepEqual(pages.map((page) => page.bytes.length), [PAGE_ENTRIES * 4, PAGE_ENTRIES * 4, 20]);
  for (const page of pages) assert.equal(hex(page.hash), sha256(page.bytes));
  assert.deepEqual([...pages.flatMap((page) => [...unpackIds(page.bytes)])], [...map]);
  assert.deepEqual([...packIds(Uint32Array.of(0x01020304)).values()], [4, 3, 2, 1]);
  // The keys in existing catalogs stay valid: a page of unrecorded blocks (4096 zero bytes) keeps its key.
  const [empty] = await toPages(new Uint32Array(PAGE_ENTRIES));
  assert.equal(hex(empty.hash), "ad7facb2586fc6e966c004d7d1d16b024f5805ff7cb47c7a85dabd8b48892ca7");
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
