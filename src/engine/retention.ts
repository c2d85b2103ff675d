/**
 * Retention rules for `backy2 enforce`: parsing `latest3,hours24,days30,weeks12,months12,years3` and deciding,
 * per version name, which versions the rules keep. Pure: the caller lists the versions and removes.
 *
 * The rules count only valid, finished versions, newest first:
 * - `latestN` keeps the N newest;
 * - `hoursN`, `daysN`, `weeksN`, `monthsN`, `yearsN` keep the newest version in each of the last N periods:
 *   UTC clock hours, UTC days, ISO weeks (Monday 00:00 UTC to Monday), UTC calendar months and years. The
 *   period that holds "now" is the first of the N, so `days1` means today; a period with no version keeps
 *   nothing and is not made up for by an older one.
 *
 * Whatever the rules say, a version is never removed when it is protected, younger than
 * `disallow_rm_when_younger_than_days`, incomplete (a backup that `backup -c` may still continue), invalid
 * (one damaged blob shared by deduplication invalidates every version using it, so removing invalid versions
 * could take a name's whole history), or dated after "now".
 */
import { BackyError } from "../util/errors.ts";

export type RuleKind = "latest" | "hours" | "days" | "weeks" | "months" | "years";

export interface Rule {
  kind: RuleKind;
  count: number;
  /** As given, e.g. `days30`. */
  text: string;
}

export interface RetentionVersion {
  uid: string;
  name: string;
  date: Date;
  valid: boolean;
  protected: boolean;
  inProgress: boolean;
}

export interface Decision<V extends RetentionVersion = RetentionVersion> {
  version: V;
  keep: boolean;
  /** Why: the rules that keep it, or what protects it, or why it goes. */
  reasons: string[];
}

const RULE = /^(latest|hours|days|weeks|months|years)(\d+)$/;
const EXAMPLE = "e.g. latest3,hours24,days30,weeks12,months12,years3";

/** Parses comma-separated rules; a bad one throws one line naming it (exit 100). */
export function parseRules(text: string): Rule[] {
  const rules: Rule[] = [];
  for (const part of text.split(",").map((p) => p.trim())) {
    const match = RULE.exec(part);
    if (!match) {
      const why = part === ""
        ? `an empty rule; give comma-separated rules, ${EXAMPLE}`
        : "a rule is latestN, hoursN, daysN, weeksN, monthsN or yearsN with a whole number N";
      throw badRule(part, why);
    }
    const kind = match[1] as RuleKind;
    const count = Number(match[2]);
    if (count < 1) throw badRule(part, "N must be at least 1");
    if (!Number.isSafeInteger(count)) throw badRule(part, "N is too large");
    if (rules.some((rule) => rule.kind === kind)) throw badRule(part, `${kind} is given twice`);
    rules.push({ kind, count, text: part });
  }
  return rules;
}

function badRule(part: string, why: string): BackyError {
  return new BackyError(`Bad retention rule '${part}': ${why}.`);
}

const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;

/** Whole days between `date` and `now`, rounded down (as `rm` counts them). */
export function ageInDays(date: Date, now: Date): number {
  return Math.floor((now.getTime() - date.getTime()) / DAY_MS);
}

/** The number of the period `date` falls in; consecutive periods have consecutive numbers. */
export function periodNumber(kind: Exclude<RuleKind, "latest">, date: Date): number {
  const ms = date.getTime();
  switch (kind) {
    case "hours":
      return Math.floor(ms / HOUR_MS);
    case "days":
      return Math.floor(ms / DAY_MS);
    case "weeks":
      // 1970-01-01 was a Thursday: adding 3 days makes weeks start on Mondays.
      return Math.floor((Math.floor(ms / DAY_MS) + 3) / 7);
    case "months":
      return date.getUTCFullYear() * 12 + date.getUTCMonth();
    case "years":
      return date.getUTCFullYear();
  }
}

/** The decision for every version, in the order given. */
export function decide<V extends RetentionVersion>(
  versions: V[],
  rules: Rule[],
  now: Date,
  minAgeDays: number,
): Decision<V>[] {
  const keptBy = new Map<string, string[]>();
  for (const group of groupByName(versions)) {
    const counted = group.filter((v) => v.valid && !v.inProgress && v.date <= now);
    counted.sort((a, b) => b.date.getTime() - a.date.getTime() || (a.uid < b.uid ? 1 : -1));
    for (const rule of rules) {
      for (const version of keptByRule(rule, counted, now)) {
        keptBy.set(version.uid, [...keptBy.get(version.uid) ?? [], rule.text]);
      }
    }
  }
  return versions.map((version) => decision(version, keptBy.get(version.uid) ?? [], now, minAgeDays));
}

function groupByName<V extends RetentionVersion>(versions: V[]): V[][] {
  const groups = new Map<string, V[]>();
  for (const version of versions) groups.set(version.name, [...groups.get(version.name) ?? [], version]);
  return [...groups.values()];
}

/** The versions (newest first) that one rule keeps. */
function keptByRule<V extends RetentionVersion>(rule: Rule, newestFirst: V[], now: Date): V[] {
  if (rule.kind === "latest") return newestFirst.slice(0, rule.count);
  const kind = rule.kind;
  const current = periodNumber(kind, now);
  const seen = new Set<number>();
  const kept: V[] = [];
  for (const version of newestFirst) {
    const period = periodNumber(kind, version.date);
    if (current - period >= rule.count) break;
    if (seen.has(period)) continue;
    seen.add(period);
    kept.push(version);
  }
  return kept;
}

function decision<V extends RetentionVersion>(version: V, rules: string[], now: Date, minAgeDays: number) {
  const keep = (reasons: string[]): Decision<V> => ({ version, keep: true, reasons });
  if (version.inProgress) return keep(["incomplete: backup -c may still continue it"]);
  if (!version.valid) return keep(["invalid: not counted by the rules and never removed by enforce"]);
  const guards: string[] = [];
  if (version.protected) guards.push("protected");
  if (version.date > now) guards.push("dated in the future");
  else if (minAgeDays > ageInDays(version.date, now)) {
    guards.push(`younger than ${minAgeDays} days (disallow_rm_when_younger_than_days)`);
  }
  if (rules.length > 0 || guards.length > 0) return keep([...rules, ...guards]);
  return { version, keep: false, reasons: ["no rule keeps it"] };
}
