/**
 * Automatic `b_daily`, `b_weekly`, `b_monthly` tags, computed on UTC calendar dates only (the reference
 * mixes UTC version dates with the local date).
 */
import type { Version } from "../catalog/catalog.ts";

const DAY = 86_400_000;

/** The tags a new backup of `name` gets, given the existing versions of that name. */
export function autoTags(existing: Version[], today: Date): string[] {
  const todayDay = utcDay(today);
  const last = (tag: string): number | null => {
    const days = existing.filter((v) => v.tags.includes(tag)).map((v) =>
      utcDay(new Date(`${v.date.slice(0, 10)}T00:00:00Z`))
    );
    return days.length ? Math.max(...days) : null;
  };
  const tags: string[] = [];
  const daily = last("b_daily");
  if (daily === null || todayDay - daily >= DAY) tags.push("b_daily");
  const weekly = last("b_weekly");
  if (weekly === null || todayDay - weekly >= 7 * DAY) tags.push("b_weekly");
  const monthly = last("b_monthly");
  if (monthly === null || addOneMonth(monthly) <= todayDay) tags.push("b_monthly");
  return tags;
}

function utcDay(d: Date): number {
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate());
}

/** The same day one month later, clamped to the month's last day (dateutil's relativedelta(months=1)). */
export function addOneMonth(day: number): number {
  const d = new Date(day);
  const year = d.getUTCFullYear() + (d.getUTCMonth() === 11 ? 1 : 0);
  const month = (d.getUTCMonth() + 1) % 12;
  const lastDay = new Date(Date.UTC(year, month + 1, 0)).getUTCDate();
  return Date.UTC(year, month, Math.min(d.getUTCDate(), lastDay));
}
