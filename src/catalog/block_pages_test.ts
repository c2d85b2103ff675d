/** Unit tests of the block-map page format: little-endian ids, fixed-size pages, SHA-256 content keys. */
import { assertEquals } from "../output/test_assert.ts";
import { sha256 } from "../util/sha256.ts";
import { packIds, PAGE_ENTRIES, toPages, unpackIds } from "./block_pages.ts";

Deno.test("a map is cut into pages of PAGE_ENTRIES ids, each keyed by the SHA-256 of its bytes", () => {
  const map = Uint32Array.from({ length: 2 * PAGE_ENTRIES + 5 }, (_, i) => (i * 2654435761) >>> 0);
  const pages = toPages(map);
  assertEquals(pages.map((page) => page.bytes.length), [PAGE_ENTRIES * 4, PAGE_ENTRIES * 4, 20]);
  for (const page of pages) assertEquals([...page.hash], [...sha256(page.bytes)]);
  assertEquals([...pages.flatMap((page) => [...unpackIds(page.bytes)])], [...map]);
  assertEquals([...packIds(Uint32Array.of(0x01020304)).values()], [4, 3, 2, 1]);
});
