/**
 * A version's recorded blocks as `export` writes them, assembled the same way by every catalog engine: one
 * record per block that has a reference, with the block's own date where it has one and the version's
 * otherwise.
 */
import type { BlobRef, BlockMap, BlockRecord, CatalogTime } from "./catalog.ts";

export function blockRecords(
  map: BlockMap,
  refs: Map<number, BlobRef>,
  dates: Map<number, CatalogTime>,
  versionDate: CatalogTime,
): BlockRecord[] {
  const blocks: BlockRecord[] = [];
  map.forEach((refId, id) => {
    const ref = refs.get(refId);
    if (!ref) return;
    const { id: _, ...fields } = ref;
    blocks.push({ id, ...fields, date: dates.get(id) ?? versionDate });
  });
  return blocks;
}
