/**
 * The disk usage report `du` as a pure function of one version's blocks and of how many blocks of all
 * versions use each blob.
 *
 * backy2's columns count plain (uncompressed) block sizes; sparse blocks only count as `Null`. The `stored`
 * ones count the bytes the same blobs take in the block store (a blob whose stored size was never recorded
 * counts its plain size).
 */
import { roundHalfEven } from "../output/humanize.ts";

export interface UsageBlock {
  /** Blob uid; null for a sparse block. */
  uid: string | null;
  size: number;
  /** Bytes in the block store; null or absent when unknown. */
  storedSize?: number | null;
}

export interface Usage {
  real: number;
  null: number;
  dedupOwn: number;
  dedupOthers: number;
  individual: number;
  estSpace: number;
  estSpaceFreed: number;
  /** Like {@link real}, {@link estSpace} and {@link estSpaceFreed}, in stored bytes. */
  stored: number;
  estStored: number;
  estStoredFreed: number;
}

interface Group {
  uid: string;
  size: number;
  stored: number;
  own: number;
}

/**
 * Usage of a version with `blocks`; `uses(uid)` is the number of blocks of all versions (this one included)
 * that use that blob.
 */
export function versionUsage(blocks: Iterable<UsageBlock>, uses: (uid: string) => number): Usage {
  const usage: Usage = {
    real: 0,
    null: 0,
    dedupOwn: 0,
    dedupOthers: 0,
    individual: 0,
    estSpace: 0,
    estSpaceFreed: 0,
    stored: 0,
    estStored: 0,
    estStoredFreed: 0,
  };
  const groups = new Map<string, Group>();
  for (const block of blocks) {
    if (block.uid === null) {
      usage.null += block.size;
      continue;
    }
    const key = `${block.uid}\0${block.size}`;
    const group = groups.get(key) ??
      { uid: block.uid, size: block.size, stored: block.storedSize ?? block.size, own: 0 };
    group.own++;
    groups.set(key, group);
  }
  // The reference sums per (uid, size) group as SQL GROUP BY returns them; the order only matters for the
  // last bits of the fractional Est. Space sum, but keeping it makes ties round the same way.
  const ordered = [...groups.values()].sort((a, b) => compareText(a.uid, b.uid) || a.size - b.size);
  let estSpace = 0;
  let estStored = 0;
  for (const group of ordered) {
    // A count below the version's own is impossible in a consistent catalog; never divide by zero.
    const all = Math.max(uses(group.uid), group.own);
    estSpace += addGroup(usage, group, all);
    estStored += addStored(usage, group, all);
  }
  usage.estSpace = roundHalfEven(estSpace);
  usage.estStored = roundHalfEven(estStored);
  return usage;
}

/**
 * Adds one blob group's sizes; returns its fractional share of Est. Space, which the reference counts once
 * per group however often this version uses the blob (checked against its captured output).
 */
function addGroup(usage: Usage, group: Group, all: number): number {
  const { size, own } = group;
  const others = all - own;
  usage.real += size * own;
  if (others > 0) usage.dedupOthers += size * own;
  else if (own > 1) usage.dedupOwn += size * (own - 1);
  else usage.individual += size;
  if (others === 0) usage.estSpaceFreed += size;
  return size / all;
}

/** Adds one blob group's stored bytes; returns its fractional share of Est. Stored. */
function addStored(usage: Usage, group: Group, all: number): number {
  usage.stored += group.stored * group.own;
  if (all === group.own) usage.estStoredFreed += group.stored;
  return group.stored / all;
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
