/**
 * `backy2 stats [VERSION_UID] [-f FIELDS] [-l LIMIT]`: the per-run statistics that backups record.
 *
 * Without a uid: the newest LIMIT rows (all without `-l`), oldest first. With a uid: that version's rows in the
 * order they were written. Unlike the reference, which ignores LIMIT there, `-l` keeps the
 * newest LIMIT rows of that version too. LIMIT 0 shows no rows; a negative LIMIT shows every row without a uid
 * and none with one, as in the reference; an empty LIMIT means none was given.
 */
import type { CommandContext } from "./context.ts";
import type { StatsRow } from "../catalog/catalog.ts";
import { type FieldSpec, type FieldSpecs, parseCsvRecord } from "../output/fields.ts";
import { renderReport } from "../output/report.ts";
import { isoFromCatalog } from "../output/json.ts";
import { parsePyInt } from "../output/pystr.ts";
import { BackyError } from "../util/errors.ts";

const count = (value: (row: StatsRow) => number): FieldSpec<StatsRow> => ({ align: "r", value });
const bytes = (value: (row: StatsRow) => number): FieldSpec<StatsRow> => ({ align: "r", humanize: true, value });

export const STATS_FIELDS: FieldSpecs<StatsRow> = {
  date: { align: "c", value: (s) => s.date, json: (s) => isoFromCatalog(s.date) },
  uid: { align: "c", value: (s) => s.versionUid },
  name: { align: "l", value: (s) => s.versionName },
  "size bytes": bytes((s) => s.versionSizeBytes),
  "size blocks": count((s) => s.versionSizeBlocks),
  "bytes read": bytes((s) => s.bytesRead),
  "blocks read": count((s) => s.blocksRead),
  "bytes written": bytes((s) => s.bytesWritten),
  "blocks written": count((s) => s.blocksWritten),
  "bytes dedup": bytes((s) => s.bytesFoundDedup),
  "blocks dedup": count((s) => s.blocksFoundDedup),
  "bytes sparse": bytes((s) => s.bytesSparse),
  "blocks sparse": count((s) => s.blocksSparse),
  "duration (s)": count((s) => s.durationSeconds),
  // Ours, only with -f: what the written blobs take in the block store; empty for runs that did not count it.
  "bytes stored": {
    align: "r",
    humanize: true,
    value: (s) => s.bytesStored ?? "",
    json: (s) => s.bytesStored ?? null,
  },
};

export async function stats(ctx: CommandContext): Promise<number> {
  const fields = parseCsvRecord(ctx.string("fields")!);
  const limitText = ctx.string("limit");
  const limit = limitText ? parsePyInt(limitText) : undefined;
  if (limit !== undefined && !Number.isSafeInteger(limit)) {
    throw new BackyError(`-l/--limit ${limitText} is out of range.`);
  }
  const rows = await statsRows(ctx, ctx.string("version_uid"), limit);
  ctx.print(renderReport(fields, STATS_FIELDS, rows, ctx.reportFlags));
  return 0;
}

async function statsRows(
  ctx: CommandContext,
  versionUid: string | undefined,
  limit: number | undefined,
): Promise<StatsRow[]> {
  const { catalog } = ctx.engine;
  // An empty uid selects nothing in particular, like the reference's truthiness test.
  // A negative LIMIT lists every row, as SQL's LIMIT -1 does in the reference.
  if (!versionUid) return catalog.listStats({ limit: limit !== undefined && limit < 0 ? undefined : limit });
  const rows = await catalog.listStats({ versionUid, limit });
  return limit === undefined ? rows : rows.slice(Math.max(0, rows.length - limit));
}
