/**
 * `backy2 enforce [--force] RULES [NAME ...]`: applies retention rules (src/engine/retention.ts) to the versions
 * of the given names (all names when none is given) and lists every version with what happens to it and why:
 * a dry run, unless `--force` removes the versions no rule keeps, each through `rm`'s path (its lock, the
 * protected check and `disallow_rm_when_younger_than_days`). A removal that fails is listed as failed, the
 * others go on, and the command exits 100.
 */
import type { CommandContext } from "./context.ts";
import type { Version } from "../catalog/catalog.ts";
import type { FieldSpecs } from "../output/fields.ts";
import { renderReport } from "../output/report.ts";
import { isoFromCatalog } from "../output/json.ts";
import { decide, type Decision, parseRules, type RetentionVersion } from "../engine/retention.ts";
import { displayTime, now, parseCatalogTime } from "../util/clock.ts";
import { BackyError, Exit } from "../util/errors.ts";
import { removeVersion } from "./remove_version.ts";

interface Row {
  version: Version;
  action: "keep" | "remove" | "removed" | "failed";
  reasons: string[];
}

const ENFORCE_FIELDS: FieldSpecs<Row> = {
  name: { align: "l", value: (row) => row.version.name },
  date: { align: "c", value: (row) => displayTime(row.version.date), json: (row) => isoFromCatalog(row.version.date) },
  uid: { align: "c", value: (row) => row.version.uid },
  action: { align: "l", value: (row) => row.action },
  reason: { align: "l", value: (row) => row.reasons.join(", "), json: (row) => row.reasons },
};

export async function enforce(ctx: CommandContext): Promise<number> {
  const rules = parseRules(ctx.string("rules")!);
  const force = ctx.flag("force");
  if (force && !ctx.locks.enabled) {
    throw new BackyError(
      "Locking is disabled (lock_dir is empty), so enforce could remove a version that a running backup, " +
        "restore or scrub uses. Remove versions one by one with rm -f instead.",
    );
  }
  const versions = await selectVersions(ctx, ctx.strings("names"));
  const decisions = decide(versions, rules, now(), ctx.config.defaults.disallowRmWhenYoungerThanDays);
  const rows: Row[] = [];
  for (const d of decisions) rows.push(force && !d.keep ? await remove(ctx, d) : plan(d));
  ctx.print(renderReport(Object.keys(ENFORCE_FIELDS), ENFORCE_FIELDS, rows, ctx.reportFlags));
  summarize(ctx, rows, force);
  return rows.some((row) => row.action === "failed") ? Exit.failed : Exit.ok;
}

type Candidate = RetentionVersion & { catalogVersion: Version };

async function selectVersions(ctx: CommandContext, names: string[]): Promise<Candidate[]> {
  const all = await ctx.engine.catalog.listVersions();
  for (const name of names) {
    if (!all.some((v) => v.name === name)) ctx.log.warning(`No versions named ${name}.`);
  }
  const wanted = names.length === 0 ? all : all.filter((v) => names.includes(v.name));
  return wanted.map((v) => ({
    uid: v.uid,
    name: v.name,
    date: parseCatalogTime(v.date),
    valid: v.valid,
    protected: v.protected,
    inProgress: v.inProgress,
    catalogVersion: v,
  }));
}

function plan(decision: Decision<Candidate>): Row {
  const { version, keep, reasons } = decision;
  return { version: version.catalogVersion, action: keep ? "keep" : "remove", reasons };
}

async function remove(ctx: CommandContext, decision: Decision<Candidate>): Promise<Row> {
  const version = decision.version.catalogVersion;
  try {
    await removeVersion(ctx, version.uid, { ignoreAge: false });
    return { version, action: "removed", reasons: decision.reasons };
  } catch (error) {
    if (!(error instanceof BackyError)) throw error;
    ctx.log.error(`Cannot remove version ${version.uid}: ${error.render()}`);
    return { version, action: "failed", reasons: [...decision.reasons, error.message] };
  }
}

function summarize(ctx: CommandContext, rows: Row[], force: boolean): void {
  const count = (action: Row["action"]) => rows.filter((row) => row.action === action).length;
  if (force) {
    ctx.log.info(`enforce: removed ${count("removed")} versions, kept ${count("keep")}, failed ${count("failed")}.`);
  } else {
    ctx.log.info(
      `enforce: would remove ${count("remove")} versions and keep ${count("keep")} (dry run; --force removes).`,
    );
  }
}
