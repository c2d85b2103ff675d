/** `backy2 ls [NAME] [-s SNAPSHOT] [-t TAG] [-e] [-f FIELDS]`: the versions, filtered (`-e`: expired ones only). */
import type { CommandContext } from "./context.ts";
import type { Version } from "../catalog/catalog.ts";
import { parseCsvRecord } from "../output/fields.ts";
import type { FieldSpecs } from "../output/fields.ts";
import { renderReport } from "../output/report.ts";
import { isoFromCatalog } from "../output/json.ts";
import { catalogTime, displayTime, now } from "../util/clock.ts";

export const LS_FIELDS: FieldSpecs<Version> = {
  date: { align: "c", value: (v) => displayTime(v.date), json: (v) => isoFromCatalog(v.date) },
  name: { align: "l", value: (v) => v.name },
  snapshot_name: { align: "l", value: (v) => v.snapshotName },
  size: { align: "r", value: (v) => v.size },
  size_bytes: { align: "r", humanize: true, value: (v) => v.sizeBytes },
  uid: { align: "c", value: (v) => v.uid },
  valid: { align: "c", value: (v) => (v.valid ? 1 : 0), json: (v) => v.valid },
  protected: { align: "c", value: (v) => (v.protected ? 1 : 0), json: (v) => v.protected },
  tags: { align: "l", value: (v) => v.tags.join(","), json: (v) => v.tags },
  expire: {
    align: "c",
    value: (v) => (v.expire ? displayTime(v.expire) : ""),
    json: (v) => (v.expire ? isoFromCatalog(v.expire) : null),
  },
};

export async function ls(ctx: CommandContext): Promise<number> {
  // An empty NAME, -s or -t is no filter, as backy2 tests them for truthiness.
  const filter = (key: string) => ctx.string(key) || undefined;
  const versions = await ctx.engine.catalog.listVersions({
    name: filter("name"),
    snapshotName: filter("snapshotName"),
    tag: filter("tag"),
    expiredBefore: ctx.flag("expired") ? catalogTime(now()) : undefined,
  });
  const fields = parseCsvRecord(ctx.string("fields")!);
  ctx.print(renderReport(fields, LS_FIELDS, versions, ctx.reportFlags));
  return 0;
}
