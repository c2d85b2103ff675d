/**
 * The scheduler reports `due` and `sla` as pure functions of the versions, the scheduler
 * settings and the current time.
 *
 * A scheduler is a config section (`interval`, `keep`, `sla`); the versions that count for a (name,
 * scheduler) pair are the valid versions of that name tagged with the scheduler's section name, oldest first.
 * Times are naive-UTC `Date`s; durations are seconds, as the config gives them.
 */
import { formatDateTime } from "../output/dates.ts";

export interface Scheduler {
  /** The config section name, which is also the tag that backups made for it carry. */
  name: string;
  /** Seconds. */
  interval: number;
  keep: number;
  /** Seconds. */
  sla: number;
}

export interface ScheduledVersion {
  uid: string;
  name: string;
  date: Date;
  valid: boolean;
  tags: readonly string[];
}

export interface DueRow {
  name: string;
  /** The due schedulers, in the order they were given. */
  schedulers: string[];
  expireDate: Date;
  dueSince: Date;
}

export interface SlaRow {
  name: string;
  breach: string;
}

const SECOND = 1000;
const DAY = 86_400 * SECOND;
const EPOCH = new Date(0);

const plus = (date: Date, ms: number) => new Date(date.getTime() + ms);
const fmt = formatDateTime;

/** The names a report covers: the one given, or every version's name (any validity) in ascending order. */
export function reportNames(versions: readonly ScheduledVersion[], name?: string): string[] {
  if (name !== undefined) return [name];
  return [...new Set(versions.map((v) => v.name))].sort(compareText);
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Valid versions of `name` tagged with the scheduler's name, oldest first (stable for equal dates). */
export function matchingVersions(
  versions: readonly ScheduledVersion[],
  name: string,
  scheduler: string,
): ScheduledVersion[] {
  return versions
    .filter((v) => v.valid && v.name === name && v.tags.includes(scheduler))
    .map((v, i) => ({ v, i }))
    .sort((a, b) => a.v.date.getTime() - b.v.date.getTime() || a.i - b.i)
    .map(({ v }) => v);
}

/** How the reference prints a duration in its DUE debug lines: `30.0s`, `5.0m`, `24.0h`. */
export function formatDuration(seconds: number): string {
  if (seconds < 60) return `${pyFloat(seconds)}s`;
  if (seconds < 3600) return `${pyFloat(seconds / 60)}m`;
  return `${pyFloat(seconds / 3600)}h`;
}

function pyFloat(x: number): string {
  return Number.isInteger(x) ? x.toFixed(1) : String(x);
}

/**
 * Since when the scheduler is due for `name` (whose matching versions are given), or null when it is not due
 * (or keeps nothing).
 */
export function dueSince(
  name: string,
  matching: readonly ScheduledVersion[],
  scheduler: Scheduler,
  now: Date,
  debug: (line: string) => void = () => {},
): Date | null {
  if (scheduler.keep === 0) return null;
  const last = matching.at(-1);
  if (last === undefined) {
    debug(`DUE: Last backup for ${name} not found, so it is due.`);
    return EPOCH;
  }
  const earliest = plus(last.date, (scheduler.interval - scheduler.sla) * SECOND);
  debug(
    `DUE: Last backup for ${name} (${scheduler.name}) was at ${fmt(last.date)} (version ${last.uid}). ` +
      `Interval ${formatDuration(scheduler.interval)}, SLA ${formatDuration(scheduler.sla)}, ` +
      `so the next one is due at ${fmt(earliest)}. Now is ${fmt(now)}.`,
  );
  return now.getTime() > earliest.getTime() ? earliest : null;
}

/** The `due` row of one name, or null when no scheduler is due for it. */
export function dueRow(
  versions: readonly ScheduledVersion[],
  name: string,
  schedulers: readonly Scheduler[],
  now: Date,
  debug?: (line: string) => void,
): DueRow | null {
  const row: DueRow = { name, schedulers: [], expireDate: now, dueSince: now };
  for (const scheduler of schedulers) {
    const since = dueSince(name, matchingVersions(versions, name, scheduler.name), scheduler, now, debug);
    if (since === null) continue;
    row.schedulers.push(scheduler.name);
    const expire = plus(now, (scheduler.keep + 1) * scheduler.interval * SECOND);
    if (expire.getTime() > row.expireDate.getTime()) row.expireDate = expire;
    if (since.getTime() < row.dueSince.getTime()) row.dueSince = since;
  }
  return row.schedulers.length > 0 ? row : null;
}

/** All `due` rows, ordered by due_since (names with equal due_since keep their order). */
export function dueRows(
  versions: readonly ScheduledVersion[],
  names: readonly string[],
  schedulers: readonly Scheduler[],
  now: Date,
  debug?: (line: string) => void,
): DueRow[] {
  const rows = names.map((name) => dueRow(versions, name, schedulers, now, debug))
    .filter((row): row is DueRow => row !== null);
  // Array.prototype.sort is stable.
  return rows.sort((a, b) => a.dueSince.getTime() - b.dueSince.getTime());
}

/** The SLA breaches of one (name, scheduler) pair, each prefixed with `{scheduler}: `, in the reference's order. */
export function slaBreaches(matching: readonly ScheduledVersion[], scheduler: Scheduler, now: Date): string[] {
  const { keep } = scheduler;
  const interval = scheduler.interval * SECOND;
  const sla = scheduler.sla * SECOND;
  const found = matching.length;
  const breaches: string[] = [];
  if (found < keep) breaches.push(`Too few backups. Found ${found}, should be ${keep}.`);
  if (found > keep + 2) breaches.push(`Too many backups. Found ${found}, should be ${keep}.`);
  const last = matching.at(-1);
  if (last !== undefined && plus(last.date, interval + sla).getTime() < now.getTime()) {
    breaches.push(
      `Latest backup is too old. Version ${last.uid} has date ${fmt(last.date)}, new backup due since ` +
        `${fmt(plus(last.date, interval + sla))}.`,
    );
  }
  breaches.push(...spacingBreaches(matching, interval, sla));
  const first = matching.at(0);
  const oldestAllowed = new Date(now.getTime() - keep * interval - sla - DAY);
  if (first !== undefined && first.date.getTime() < oldestAllowed.getTime()) {
    breaches.push(
      `Backup too old. Found version_uid ${first.uid} with backup date ${fmt(first.date)}. ` +
        `Oldest allowed date is ${fmt(oldestAllowed)}.`,
    );
  }
  return breaches.map((breach) => `${scheduler.name}: ${breach}`);
}

/** Consecutive versions must lie `interval ± sla` apart (times in milliseconds). */
function spacingBreaches(matching: readonly ScheduledVersion[], interval: number, sla: number): string[] {
  const breaches: string[] = [];
  for (let i = 1; i < matching.length; i++) {
    const previous = matching[i - 1].date;
    const version = matching[i];
    const low = plus(previous, interval - sla);
    const high = plus(previous, interval + sla);
    if (version.date.getTime() < low.getTime() || version.date.getTime() > high.getTime()) {
      breaches.push(
        `Version ${version.uid} is not in SLA range. It was created at ${fmt(version.date)} and should be ` +
          `between ${fmt(low)} and ${fmt(high)}.`,
      );
    }
  }
  return breaches;
}

/** All `sla` rows: per name, per scheduler in the given order, every breach. */
export function slaRows(
  versions: readonly ScheduledVersion[],
  names: readonly string[],
  schedulers: readonly Scheduler[],
  now: Date,
): SlaRow[] {
  return names.flatMap((name) =>
    schedulers.flatMap((scheduler) =>
      slaBreaches(matchingVersions(versions, name, scheduler.name), scheduler, now).map((breach) => ({
        name,
        breach,
      }))
    )
  );
}
