/**
 * The disk usage report `du` (behavior §14.2) as a pure function of one version's blocks and of how many
 * blocks of all versions use each blob.
 *
 * All sizes are plain (uncompressed) block sizes; sparse blocks only count as `Null`.
 */
import { roundHalfEven } from "../output/humanize.ts";

export interface UsageBlock {
  /** Blob uid; null for a sparse block. */
  uid: string | null;
  size: number;
}

export interface Usage {
  real: number;
  null: number;
  dedupOwn: number;
  dedupOthers: number;
  individual: number;
  estSpace: number;
  estSpaceFreed: number;
}

interface Group {
  uid: string;
  size: number;
  own: number;
}

/**
 * Usage of a version with `blocks`; `uses(uid)` is the number of blocks of all versions (this one included)
 * that use that blob.
 */
export function versionUsage(blocks: Iterable<UsageBlock>, uses: (uid: string) => number): Usage {
  const usage: Usage = { real: 0, null: 0, dedupOwn: 0, dedupOthers: 0, individual: 0, estSpace: 0, estSpaceFreed: 0 };
  const groups = new Map<string, Group>();
  for (const block of blocks) {
    if (block.uid === null) {
      usage.null += block.size;
      continue;
    }
    const key = `${block.uid}\0${block.size}`;
    const group = groups.get(key) ?? { uid: block.uid, size: block.size, own: 0 };
    group.own++;
    groups.set(key, group);
  }
  // The reference sums per (uid, size) group as SQL GROUP BY returns them; the order only matters for the
  // last bits of the fractional Est. Space sum, but keeping it makes ties round the same way.
  const ordered = [...groups.values()].sort((a, b) => compareText(a.uid, b.uid) || a.size - b.size);
  let estSpace = 0;
  // A count below the version's own is impossible in a consistent catalog; never divide by zero.
  for (const group of ordered) estSpace += addGroup(usage, group, Math.max(uses(group.uid), group.own));
  usage.estSpace = roundHalfEven(estSpace);
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

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
