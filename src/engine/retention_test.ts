import assert from "node:assert/strict";
import { decide, parseRules, periodNumber, type RetentionVersion } from "./retention.ts";
import { BackyError } from "../util/errors.ts";

const at = (iso: string) => new Date(`${iso}Z`);

let serial = 0;
function version(iso: string, extra: Partial<RetentionVersion> = {}): RetentionVersion {
  serial++;
  return {
    uid: `u${String(serial).padStart(3, "0")}`,
    name: "vm",
    date: at(iso),
    valid: true,
    protected: false,
    inProgress: false,
    ...extra,
  };
}

/** The dates of the kept versions, each with its reasons. */
function kept(versions: RetentionVersion[], rules: string, now: string, minAgeDays = 0): string[] {
  return decide(versions, parseRules(rules), at(now), minAgeDays)
    .filter((d) => d.keep)
    .map((d) => `${d.version.date.toISOString().slice(0, 16)} ${d.reasons.join(",")}`);
}

function badRule(text: string): string {
  try {
    parseRules(text);
  } catch (error) {
    assert.ok(error instanceof BackyError);
    assert.equal(error.exitCode, 100);
    return error.message;
  }
  throw new Error(`${text} was accepted`);
}

Deno.test("rules parse, and a bad one is named in one line", () => {
  assert.deepEqual(parseRules(" latest3, days30 ,years1").map((r) => [r.kind, r.count]), [
    ["latest", 3],
    ["days", 30],
    ["years", 1],
  ]);
  assert.match(badRule("latest3,dayz30"), /^Bad retention rule 'dayz30': a rule is latestN, hoursN, /);
  assert.equal(badRule("days0"), "Bad retention rule 'days0': N must be at least 1.");
  assert.equal(badRule("days3,days4"), "Bad retention rule 'days4': days is given twice.");
  assert.match(badRule("latest3,,days2"), /^Bad retention rule '': an empty rule; give comma-separated rules/);
  assert.match(badRule(""), /^Bad retention rule '': /);
  assert.match(badRule("days-1"), /^Bad retention rule 'days-1': /);
  assert.match(badRule("weeks1.5"), /^Bad retention rule 'weeks1.5': /);
  assert.equal(badRule("hours99999999999999999999"), "Bad retention rule 'hours99999999999999999999': N is too large.");
});

Deno.test("weeks are ISO weeks: Monday 00:00 UTC starts a new one", () => {
  const week = (iso: string) => periodNumber("weeks", at(iso));
  assert.equal(week("2026-01-04T23:59:59"), week("2025-12-29T00:00:00")); // Sunday and the Monday before
  assert.equal(week("2026-01-05T00:00:00"), week("2026-01-04T23:59:59") + 1); // the next Monday
  assert.equal(
    periodNumber("months", at("2026-02-01T00:00:00")),
    periodNumber("months", at("2026-01-31T23:59:59")) + 1,
  );
  assert.equal(periodNumber("years", at("2027-01-01T00:00:00")), 2027);
  assert.equal(periodNumber("hours", at("2026-01-01T10:59:59")), periodNumber("hours", at("2026-01-01T10:00:00")));
});

Deno.test("latestN keeps the newest N of each name", () => {
  const versions = [
    version("2026-01-01T00:00:00"),
    version("2026-01-02T00:00:00"),
    version("2026-01-03T00:00:00"),
    version("2026-01-01T00:00:00", { name: "other" }),
  ];
  assert.deepEqual(kept(versions, "latest2", "2026-02-01T00:00:00"), [
    "2026-01-02T00:00 latest2",
    "2026-01-03T00:00 latest2",
    "2026-01-01T00:00 latest2",
  ]);
});

Deno.test("daysN keeps the newest version of each of the last N UTC days, today included", () => {
  const versions = [
    version("2026-01-08T01:00:00"), // day -3: outside days3
    version("2026-01-09T01:00:00"),
    version("2026-01-09T23:00:00"), // newest of day -2
    version("2026-01-11T05:00:00"), // today
  ];
  assert.deepEqual(kept(versions, "days3", "2026-01-11T06:00:00"), [
    "2026-01-09T23:00 days3",
    "2026-01-11T05:00 days3",
  ]);
});

Deno.test("hours, weeks, months and years keep one per period, and reasons name every rule that keeps", () => {
  const versions = [
    version("2024-06-01T00:00:00"),
    version("2025-03-01T00:00:00"),
    version("2025-12-15T00:00:00"),
    version("2026-01-05T10:00:00"), // Monday
    version("2026-01-06T09:30:00"),
    version("2026-01-06T10:10:00"),
    version("2026-01-06T10:40:00"),
  ];
  assert.deepEqual(kept(versions, "hours2,weeks2,months2,years2", "2026-01-06T11:00:00"), [
    // Last week (Dec 29 to Jan 4) had no version: weeks2 keeps only this week's.
    "2025-12-15T00:00 months2,years2",
    "2026-01-06T10:40 hours2,weeks2,months2,years2",
  ]);
  assert.deepEqual(kept(versions, "years3", "2026-01-06T11:00:00"), [
    "2024-06-01T00:00 years3",
    "2025-12-15T00:00 years3",
    "2026-01-06T10:40 years3",
  ]);
});

Deno.test("protected, young, incomplete and invalid versions are never removed; only valid ones count", () => {
  const versions = [
    version("2026-01-01T00:00:00", { protected: true }),
    version("2026-01-02T00:00:00"),
    version("2026-01-03T00:00:00", { inProgress: true, valid: false }),
    version("2026-01-04T00:00:00", { valid: false }),
    version("2026-01-09T00:00:00"),
    version("2026-01-10T12:00:00"),
  ];
  const decisions = decide(versions, parseRules("latest1"), at("2026-01-10T13:00:00"), 2);
  assert.deepEqual(decisions.map((d) => [d.keep, d.reasons.join("; ")]), [
    [true, "protected"],
    [false, "no rule keeps it"],
    [true, "incomplete: backup -c may still continue it"],
    [true, "invalid: not counted by the rules and never removed by enforce"],
    [true, "younger than 2 days (disallow_rm_when_younger_than_days)"],
    [true, "latest1; younger than 2 days (disallow_rm_when_younger_than_days)"],
  ]);
});

Deno.test("a version dated after now is kept and counts for nothing", () => {
  const versions = [version("2026-01-01T00:00:00"), version("2030-01-01T00:00:00")];
  assert.deepEqual(kept(versions, "latest1", "2026-01-02T00:00:00"), [
    "2026-01-01T00:00 latest1",
    "2030-01-01T00:00 dated in the future",
  ]);
});
