/** Tests for the `due` and `sla` computations with fixed times. */
import assert from "node:assert/strict";
import {
  dueRow,
  dueRows,
  dueSince,
  formatDuration,
  matchingVersions,
  reportNames,
  type ScheduledVersion,
  type Scheduler,
  slaBreaches,
  slaRows,
} from "./schedule.ts";

const HOUR = 3600;
const DAY = 24 * HOUR;
const daily: Scheduler = { name: "daily", interval: DAY, keep: 3, sla: 6 * HOUR };
const weekly: Scheduler = { name: "weekly", interval: 7 * DAY, keep: 2, sla: 12 * HOUR };

const at = (iso: string) => new Date(`${iso}Z`);

function version(uid: string, date: string, tags: string[], options: Partial<ScheduledVersion> = {}): ScheduledVersion {
  return { uid, name: "vm", date: at(date), valid: true, tags, ...options };
}

Deno.test("matching versions are the valid ones of the name with the scheduler's tag, oldest first", () => {
  const versions = [
    version("c", "2024-01-03T00:00:00", ["daily"]),
    version("a", "2024-01-01T00:00:00", ["daily", "weekly"]),
    version("x", "2024-01-02T00:00:00", ["daily"], { valid: false }),
    version("y", "2024-01-02T00:00:00", ["daily"], { name: "other" }),
    version("z", "2024-01-02T00:00:00", ["b_daily"]),
    version("b", "2024-01-02T00:00:00", ["daily"]),
  ];
  assert.deepEqual(matchingVersions(versions, "vm", "daily").map((v) => v.uid), ["a", "b", "c"]);
  assert.deepEqual(matchingVersions(versions, "vm", "weekly").map((v) => v.uid), ["a"]);
});

Deno.test("report names are the given name or all names sorted", () => {
  const versions = [version("a", "2024-01-01T00:00:00", [], { name: "web" }), version("b", "2024-01-01T00:00:00", [])];
  assert.deepEqual(reportNames(versions), ["vm", "web"]);
  assert.deepEqual(reportNames(versions, "nothing"), ["nothing"]);
});

Deno.test("durations print like the reference's debug lines", () => {
  assert.equal(formatDuration(30), "30.0s");
  assert.equal(formatDuration(90), "1.5m");
  assert.equal(formatDuration(DAY), "24.0h");
  assert.equal(formatDuration(5400), "1.5h");
});

Deno.test("a scheduler without backups is due since the epoch; keep 0 is never due", () => {
  const lines: string[] = [];
  assert.deepEqual(dueSince("vm", [], daily, at("2024-01-01T00:00:00"), (line) => lines.push(line)), new Date(0));
  assert.deepEqual(lines, ["DUE: Last backup for vm not found, so it is due."]);
  assert.equal(dueSince("vm", [], { ...daily, keep: 0 }, at("2024-01-01T00:00:00")), null);
});

Deno.test("a scheduler is due once now is past last + interval - sla", () => {
  const last = [version("a", "2024-01-01T12:00:00", ["daily"])];
  const earliest = at("2024-01-02T06:00:00");
  assert.equal(dueSince("vm", last, daily, earliest), null, "exactly at the earliest time: not yet");
  assert.deepEqual(dueSince("vm", last, daily, at("2024-01-02T06:00:01")), earliest);
  const lines: string[] = [];
  dueSince("vm", last, daily, at("2024-01-02T07:00:00"), (line) => lines.push(line));
  assert.deepEqual(lines, [
    "DUE: Last backup for vm (daily) was at 2024-01-01 12:00:00 (version a). Interval 24.0h, SLA 6.0h, so the " +
    "next one is due at 2024-01-02 06:00:00. Now is 2024-01-02 07:00:00.",
  ]);
});

Deno.test("a due row lists the due schedulers in the given order with the longest expire and earliest due", () => {
  const now = at("2024-01-10T00:00:00");
  const versions = [version("a", "2024-01-08T00:00:00", ["daily"])];
  assert.deepEqual(dueRow(versions, "vm", [weekly, daily], now), {
    name: "vm",
    schedulers: ["weekly", "daily"],
    expireDate: at("2024-01-31T00:00:00"), // now + (2 + 1) * 7 days
    dueSince: new Date(0), // weekly has no backup
  });
  assert.deepEqual(dueRow(versions, "vm", [daily], now), {
    name: "vm",
    schedulers: ["daily"],
    expireDate: at("2024-01-14T00:00:00"), // now + (3 + 1) days
    dueSince: at("2024-01-08T18:00:00"),
  });
  assert.equal(dueRow(versions, "vm", [daily], at("2024-01-08T12:00:00")), null);
});

Deno.test("due rows are ordered by due_since, ties keep the name order", () => {
  const now = at("2024-01-10T00:00:00");
  const versions = [
    version("a", "2024-01-08T00:00:00", ["daily"], { name: "a" }),
    version("b", "2024-01-05T00:00:00", ["daily"], { name: "b" }),
    version("c", "2024-01-09T20:00:00", ["daily"], { name: "c" }),
  ];
  const rows = dueRows(versions, ["a", "b", "c", "d", "e"], [daily], now);
  assert.deepEqual(rows.map((row) => row.name), ["d", "e", "b", "a"]);
});

Deno.test("sla reports too few backups and a latest backup that is too old", () => {
  const now = at("2024-01-10T00:00:00");
  const versions = [version("u1", "2024-01-08T00:00:00", ["daily"])];
  assert.deepEqual(slaBreaches(versions, daily, now), [
    "daily: Too few backups. Found 1, should be 3.",
    "daily: Latest backup is too old. Version u1 has date 2024-01-08 00:00:00, new backup due since " +
    "2024-01-09 06:00:00.",
  ]);
});

Deno.test("sla reports too many backups, spacing outside interval ± sla and a too old first backup", () => {
  const now = at("2024-01-06T01:00:00");
  const versions = [
    version("u1", "2024-01-01T00:00:00", ["daily"]),
    version("u2", "2024-01-02T00:00:00", ["daily"]), // on time
    version("u3", "2024-01-02T17:59:59", ["daily"]), // too early: earliest 2024-01-02 18:00:00
    version("u4", "2024-01-03T17:59:59", ["daily"]), // compared with u3: on time
    version("u5", "2024-01-05T00:00:00", ["daily"]), // a second too late
    version("u6", "2024-01-06T00:00:00", ["daily"]),
  ];
  assert.deepEqual(slaBreaches(versions, daily, now), [
    "daily: Too many backups. Found 6, should be 3.",
    "daily: Version u3 is not in SLA range. It was created at 2024-01-02 17:59:59 and should be between " +
    "2024-01-02 18:00:00 and 2024-01-03 06:00:00.",
    "daily: Version u5 is not in SLA range. It was created at 2024-01-05 00:00:00 and should be between " +
    "2024-01-04 11:59:59 and 2024-01-04 23:59:59.",
    // now - 3 days - 6 hours - 1 day
    "daily: Backup too old. Found version_uid u1 with backup date 2024-01-01 00:00:00. Oldest allowed date is " +
    "2024-01-01 19:00:00.",
  ]);
});

Deno.test("sla of a healthy series has no breaches; keep + 2 backups are allowed", () => {
  const now = at("2024-01-05T05:00:00");
  const versions = ["01", "02", "03", "04", "05"].map((d, i) => version(`u${i}`, `2024-01-${d}T00:00:00`, ["daily"]));
  assert.deepEqual(slaBreaches(versions, daily, now), []);
});

Deno.test("sla rows go per name, then per scheduler in the given order", () => {
  const now = at("2024-01-10T00:00:00");
  assert.deepEqual(slaRows([], ["b", "a"], [weekly, daily], now), [
    { name: "b", breach: "weekly: Too few backups. Found 0, should be 2." },
    { name: "b", breach: "daily: Too few backups. Found 0, should be 3." },
    { name: "a", breach: "weekly: Too few backups. Found 0, should be 2." },
    { name: "a", breach: "daily: Too few backups. Found 0, should be 3." },
  ]);
});
