/**
 * `backy2 sla [NAME] [-s SCHEDULERS] [-f FIELDS]`: every way the backups of each version name break their
 * schedulers' service levels, one row per breach. Breaches are reported, not failures: the exit code stays 0.
 */
import type { CommandContext } from "./context.ts";
import { type FieldSpecs, parseCsvRecord } from "../output/fields.ts";
import { renderReport } from "../output/report.ts";
import { type SlaRow, slaRows } from "../engine/schedule.ts";
import { now } from "../util/clock.ts";
import { scheduleInput } from "./cmd_due.ts";

export const SLA_FIELDS: FieldSpecs<SlaRow> = {
  name: { align: "l", value: (row) => row.name },
  breach: { align: "l", value: (row) => row.breach },
};

export async function sla(ctx: CommandContext): Promise<number> {
  const fields = parseCsvRecord(ctx.string("fields")!);
  const { versions, names, schedulers } = await scheduleInput(ctx);
  ctx.print(renderReport(fields, SLA_FIELDS, slaRows(versions, names, schedulers, now()), ctx.reportFlags));
  return 0;
}
