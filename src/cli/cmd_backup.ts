/**
 * `backy2 backup SOURCE NAME` with `-s -r -f -c -t -e`. Names and tags that `-m` output could not show are
 * refused before anything is created.
 */
import type { CommandContext } from "./context.ts";
import type { StatsRow } from "../catalog/catalog.ts";
import { backup } from "../engine/backup.ts";
import { parseCsvRecord } from "../output/fields.ts";
import { parseExpire } from "../output/dates.ts";
import { catalogTime } from "../util/clock.ts";
import { checkName, checkTags } from "./names.ts";

export async function backupCommand(ctx: CommandContext): Promise<number> {
  const tagText = ctx.string("tag");
  const expireText = ctx.string("expire") ?? "";
  // Parsed before anything is created: a bad date changes nothing.
  const expire = expireText ? catalogTime(parseExpire(expireText)) : undefined;
  const tags = tagText ? parseCsvRecord(tagText).filter((tag) => tag !== "") : undefined;
  const name = ctx.string("name")!;
  const snapshotName = ctx.string("snapshotName") ?? "";
  checkName("Version name", name);
  checkName("Snapshot name", snapshotName);
  checkTags(tags ?? []);
  ctx.result.name = name;
  declareCounters(ctx);
  await ctx.openStore();
  const outcome = await backup(ctx.engine, {
    sourceUrl: ctx.string("source")!,
    name,
    snapshotName,
    hintsPath: ctx.string("rbd"),
    fromVersion: ctx.string("fromVersion"),
    continueVersion: ctx.string("continueVersion"),
    tags,
    expire,
    onVersion: (uid) => {
      ctx.result.uid = uid;
      if (ctx.flags.machineOutput) ctx.print(`${uid}\n`);
    },
  });
  if (outcome.exitCode === 0 && ctx.flags.machineOutput) ctx.print(`${outcome.uid}\n`);
  await countFromStats(ctx, outcome.uid);
  return outcome.exitCode;
}

/** The `--json` counters: the stats row this run wrote (its names in snake case, `found` dropped). */
const STATS_COUNTERS: [string, keyof StatsRow][] = [
  ["size_bytes", "versionSizeBytes"],
  ["size_blocks", "versionSizeBlocks"],
  ["bytes_read", "bytesRead"],
  ["blocks_read", "blocksRead"],
  ["bytes_written", "bytesWritten"],
  ["blocks_written", "blocksWritten"],
  ["bytes_dedup", "bytesFoundDedup"],
  ["blocks_dedup", "blocksFoundDedup"],
  ["bytes_sparse", "bytesSparse"],
  ["blocks_sparse", "blocksSparse"],
  ["bytes_stored", "bytesStored"],
];

function declareCounters(ctx: CommandContext): void {
  ctx.report.declare(...STATS_COUNTERS.map(([name]) => name));
}

async function countFromStats(ctx: CommandContext, uid: string): Promise<void> {
  // A backup that failed its sanity check removed its version and wrote no row: its counters stay 0.
  const row = (await ctx.engine.catalog.listStats({ versionUid: uid })).at(-1);
  if (!row) return;
  for (const [name, key] of STATS_COUNTERS) ctx.report.set(name, (row[key] as number | null | undefined) ?? 0);
}
