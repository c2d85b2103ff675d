/**
 * `backy2 du [VERSION_UID] [-f FIELDS]`: how much stored data a version uses, shares and would free.
 * Without a uid, one row per version in `ls` order (the rows do not name their version, as in the
 * reference). Each reported version is locked (shared) for the rest of the command.
 */
import type { CommandContext } from "./context.ts";
import type { BlobRef, BlobRole, BlockMap, BlockMapRole, Version } from "../catalog/catalog.ts";

type DuCatalog = BlockMapRole & BlobRole;
import { type FieldSpec, type FieldSpecs, parseCsvRecord } from "../output/fields.ts";
import { renderReport } from "../output/report.ts";
import { type Usage, type UsageBlock, versionUsage } from "../engine/usage.ts";
import { versionLocked } from "../util/errors.ts";

const size = (value: (u: Usage) => number): FieldSpec<Usage> => ({ align: "r", humanize: true, value });

export const DU_FIELDS: FieldSpecs<Usage> = {
  Real: size((u) => u.real),
  Null: size((u) => u.null),
  "Dedup Own": size((u) => u.dedupOwn),
  "Dedup Others": size((u) => u.dedupOthers),
  Individual: size((u) => u.individual),
  "Est. Space": size((u) => u.estSpace),
  "Est. Space freed": size((u) => u.estSpaceFreed),
  // Ours, only with -f: what the same blobs take in the block store (compressed).
  Stored: size((u) => u.stored),
  "Est. Stored": size((u) => u.estStored),
  "Est. Stored freed": size((u) => u.estStoredFreed),
};

export async function du(ctx: CommandContext): Promise<number> {
  const fields = parseCsvRecord(ctx.string("fields")!);
  const { catalog } = ctx.engine;
  const uid = ctx.string("version_uid");
  const versions = uid ? [await catalog.getVersion(uid)] : await catalog.listVersions();
  await using leases = new AsyncDisposableStack();
  for (const version of versions) {
    // Shared: several reports may read a version at once, but it cannot be written or removed meanwhile.
    leases.use(await ctx.locks.acquire(version.uid, "shared", (holder) => versionLocked(version.uid, holder)));
  }
  const rows = await usageOf(catalog, versions);
  ctx.print(renderReport(fields, DU_FIELDS, rows, ctx.reportFlags));
  return 0;
}

/** The usage of each version, from one pass over the reference counts of the whole catalog. */
async function usageOf(catalog: DuCatalog, versions: Version[]): Promise<Usage[]> {
  if (versions.length === 0) return [];
  const counts = await catalog.referenceCounts();
  const refs = await catalog.refs(counts.keys());
  const usesByUid = new Map<string, number>();
  for (const [id, n] of counts) {
    const blob = refs.get(id)?.uid;
    if (blob != null) usesByUid.set(blob, (usesByUid.get(blob) ?? 0) + n);
  }
  const uses = (blob: string) => usesByUid.get(blob) ?? 0;
  const usage: Usage[] = [];
  for (const version of versions) {
    usage.push(versionUsage(blocksOf(await catalog.blockMap(version.uid), refs), uses));
  }
  return usage;
}

/** The recorded blocks of a version (an unfinished version may not have all of them yet). */
function* blocksOf(map: BlockMap, refs: Map<number, BlobRef>): Generator<UsageBlock> {
  for (const id of map) {
    const ref = refs.get(id);
    if (ref !== undefined) yield ref;
  }
}
