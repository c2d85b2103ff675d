/**
 * `backy2 due [NAME] [-s SCHEDULERS] [-f FIELDS]`: which schedulers are due for each version name, since
 * when, and the expire date a backup made now should get. The schedulers of a row are listed in the order
 * `-s` gives them (the reference's order was arbitrary).
 */
import type { CommandContext } from "./context.ts";
import { formatDateTime } from "../output/dates.ts";
import { type FieldSpecs, parseCsvRecord } from "../output/fields.ts";
import { renderReport } from "../output/report.ts";
import { isoFromDate } from "../output/json.ts";
import { type DueRow, dueRows, reportNames, type ScheduledVersion, type Scheduler } from "../engine/schedule.ts";
import { now, parseCatalogTime } from "../util/clock.ts";

export const DUE_FIELDS: FieldSpecs<DueRow> = {
  name: { align: "l", value: (row) => row.name },
  schedulers: { align: "l", value: (row) => row.schedulers.join(","), json: (row) => row.schedulers },
  expire_date: {
    align: "c",
    value: (row) => formatDateTime(row.expireDate),
    json: (row) => isoFromDate(row.expireDate),
  },
  due_since: { align: "c", value: (row) => formatDateTime(row.dueSince), json: (row) => isoFromDate(row.dueSince) },
};

export async function due(ctx: CommandContext): Promise<number> {
  const fields = parseCsvRecord(ctx.string("fields")!);
  const { versions, names, schedulers } = await scheduleInput(ctx);
  const rows = dueRows(versions, names, schedulers, now(), (line) => ctx.log.debug(line));
  ctx.print(renderReport(fields, DUE_FIELDS, rows, ctx.reportFlags));
  return 0;
}

export interface ScheduleInput {
  versions: ScheduledVersion[];
  names: string[];
  schedulers: Scheduler[];
}

/** What `due` and `sla` work on: the `-s` scheduler sections, every version, and the names to report. */
export async function scheduleInput(ctx: CommandContext): Promise<ScheduleInput> {
  const schedulers = parseCsvRecord(ctx.string("schedulers")!).map((name) => ({
    name,
    ...ctx.config.scheduler(name),
  }));
  const versions = (await ctx.engine.catalog.listVersions()).map((v) => ({
    uid: v.uid,
    name: v.name,
    date: parseCatalogTime(v.date),
    valid: v.valid,
    tags: v.tags,
  }));
  // An empty NAME means all names, like the reference's truthiness test.
  return { versions, names: reportNames(versions, ctx.string("name") || undefined), schedulers };
}
