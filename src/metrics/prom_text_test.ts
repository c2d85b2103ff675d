import assert from "node:assert/strict";
import { escapeLabelValue, type Family, formatFamilies, parseSamples } from "./prom_text.ts";
import { applyRun, carryOver, emptyFamilies } from "./metrics.ts";

Deno.test("label values escape backslash, double quote and line feed", () => {
  assert.equal(escapeLabelValue('a\\b"c\nd'), 'a\\\\b\\"c\\nd');
});

Deno.test("families are written with HELP and TYPE, sorted series, no timestamps, and read back", () => {
  const family: Family = {
    name: "backy2_x",
    help: "Help with a \\ and\na newline.",
    label: "version_name",
    series: new Map([['b"q', 2], ["a\\b\nc", 1.5]]),
  };
  const unlabelled: Family = { name: "backy2_y", help: "Y.", label: null, series: new Map([["", 7]]) };
  const empty: Family = { name: "backy2_z", help: "Z.", label: null, series: new Map() };
  const text = formatFamilies([family, unlabelled, empty]);
  assert.equal(
    text,
    "# HELP backy2_x Help with a \\\\ and\\na newline.\n# TYPE backy2_x gauge\n" +
      'backy2_x{version_name="a\\\\b\\nc"} 1.5\nbacky2_x{version_name="b\\"q"} 2\n' +
      "# HELP backy2_y Y.\n# TYPE backy2_y gauge\nbacky2_y 7\n",
  );
  const read = parseSamples(text);
  assert.deepEqual([...read.get("backy2_x")!], [["a\\b\nc", 1.5], ['b"q', 2]]);
  assert.deepEqual([...read.get("backy2_y")!], [["", 7]]);
  assert.equal(formatFamilies([empty]), "");
});

Deno.test("a run keeps the other commands' and names' series and replaces its own", () => {
  const first = emptyFamilies();
  applyRun(first, {
    command: "backup",
    exitCode: 0,
    finishedAt: new Date(1000_000),
    durationSeconds: 2,
    backup: { versionName: "vm1", bytesRead: 10, bytesWritten: 5, bytesStored: 5 },
  });
  const second = emptyFamilies();
  carryOver(second, parseSamples(formatFamilies(first)));
  applyRun(second, { command: "scrub", exitCode: 20, finishedAt: new Date(2000_000), durationSeconds: 1 });
  const samples = parseSamples(formatFamilies(second));
  assert.deepEqual([...samples.get("backy2_last_run_success")!], [["backup", 1], ["scrub", 0]]);
  assert.deepEqual([...samples.get("backy2_last_backup_bytes_read")!], [["vm1", 10]]);
  assert.deepEqual([...samples.get("backy2_last_run_timestamp_seconds")!], [["backup", 1000], ["scrub", 2000]]);
});
