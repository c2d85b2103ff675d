/**
 * Blocks whose block map names a reference the catalog does not have. A sound catalog never has them (a
 * reference is dropped only when no block map uses it); a damaged one may, and restore and scrub must then
 * fail, naming the block, rather than skip it.
 */
import type { BlobRef } from "../catalog/catalog.ts";

export interface UnknownRef {
  block: number;
  ref: number;
}

/** The blocks of `map` whose nonzero reference id is missing from `refs`, in block order. */
export function unknownRefs(map: Uint32Array, refs: Map<number, BlobRef>): UnknownRef[] {
  const unknown: UnknownRef[] = [];
  for (let block = 0; block < map.length; block++) {
    if (map[block] !== 0 && !refs.has(map[block])) unknown.push({ block, ref: map[block] });
  }
  return unknown;
}

export function unknownRefMessage(uid: string, { block, ref }: UnknownRef): string {
  return `Block ${block} of version ${uid}: its reference ${ref} is not in the catalog (a damaged catalog).`;
}
