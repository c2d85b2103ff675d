/**
 * `backy2 backup SOURCE NAME` with `-s -r -f -c -t -e` (behavior §2.6, §6). Names and tags that `-m` output
 * could not show are refused before anything is created.
 */
import type { CommandContext } from "./context.ts";
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
    onVersion: (uid) => ctx.flags.machineOutput && ctx.print(`${uid}\n`),
  });
  if (outcome.exitCode === 0 && ctx.flags.machineOutput) ctx.print(`${outcome.uid}\n`);
  return outcome.exitCode;
}
