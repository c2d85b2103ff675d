/**
 * Tests for the listing entry point, mostly against the real backy2 2.13.8 golden outputs: rows are
 * rebuilt from the captured `-m` output and must render to the captured tables byte for byte.
 */

import assert from "node:assert/strict";
import { type FieldSpecs, parseCsvRecord } from "./fields.ts";
import { renderReport, type ReportFlags } from "./report.ts";
import { fixtureDir } from "../../tests/fixture_path.ts";

function golden(name: string): string {
  return Deno.readTextFileSync(`${fixtureDir()}/golden/${name}.stdout`);
}

/** The table part of a captured stdout (the reference logs INFO lines around it). */
function goldenTable(name: string): string {
  return golden(name).split("\n").filter((line) => line.startsWith("+") || line.startsWith("|")).join("\n") + "\n";
}

type Row = Record<string, string>;

/** Rows keyed by field name from captured machine lines (no `|` occurs inside the fixture's values). */
function machineRows(fields: string[], text: string): Row[] {
  return text.split("\n").filter((line) => line !== "").map((line) => {
    const cells = line.split("|");
    assert.deepEqual(cells.length, fields.length, line);
    return Object.fromEntries(fields.map((f, i) => [f, cells[i]]));
  });
}

const text = (name: string) => (row: Row) => row[name];
const num = (name: string) => (row: Row) => Number(row[name]);

const LS_FIELDS = parseCsvRecord("date,name,snapshot_name,size,size_bytes,uid,valid,protected,tags,expire");
const LS_SPECS: FieldSpecs<Row> = {
  date: { align: "c", value: text("date") },
  name: { align: "l", value: text("name") },
  snapshot_name: { align: "l", value: text("snapshot_name") },
  size: { align: "r", value: num("size") },
  size_bytes: { align: "r", humanize: true, value: num("size_bytes") },
  uid: { align: "c", value: text("uid") },
  valid: { align: "c", value: num("valid") },
  protected: { align: "c", value: num("protected") },
  tags: { align: "l", value: text("tags") },
  expire: { align: "c", value: text("expire") },
};

const STATS_FIELDS = parseCsvRecord(
  "date,uid,name,size bytes,size blocks,bytes read,blocks read,bytes written,blocks written,bytes dedup," +
    "blocks dedup,bytes sparse,blocks sparse,duration (s)",
);
const STATS_HUMANIZED = ["size bytes", "bytes read", "bytes written", "bytes dedup", "bytes sparse"];
const STATS_SPECS: FieldSpecs<Row> = Object.fromEntries(STATS_FIELDS.map((f) => {
  if (f === "date" || f === "uid") return [f, { align: "c", value: text(f) }];
  if (f === "name") return [f, { align: "l", value: text(f) }];
  return [f, { align: "r", humanize: STATS_HUMANIZED.includes(f), value: num(f) }];
}));

const DU_FIELDS = parseCsvRecord("Real,Null,Dedup Own,Dedup Others,Individual,Est. Space,Est. Space freed");
const DU_SPECS: FieldSpecs<Row> = Object.fromEntries(
  DU_FIELDS.map((f) => [f, { align: "r", humanize: true, value: num(f) }]),
);

const TABLE: ReportFlags = { machine: false, skipHeader: false, humanReadable: false };
const MACHINE_SKIP: ReportFlags = { machine: true, skipHeader: true, humanReadable: false };

const lsRows = () => machineRows(LS_FIELDS, golden("ls_ms"));
const statsRows = () => machineRows(STATS_FIELDS, golden("stats_ms"));

Deno.test("golden ls: table", () => {
  assert.deepEqual(renderReport(LS_FIELDS, LS_SPECS, lsRows(), TABLE), goldenTable("ls"));
});

Deno.test("golden ls -r: humanized size_bytes", () => {
  assert.deepEqual(renderReport(LS_FIELDS, LS_SPECS, lsRows(), { ...TABLE, humanReadable: true }), goldenTable("ls_r"));
});

Deno.test("golden ls -ms and ls -ms db01: machine lines round-trip", () => {
  assert.deepEqual(renderReport(LS_FIELDS, LS_SPECS, lsRows(), MACHINE_SKIP), golden("ls_ms"));
  const db01 = lsRows().filter((row) => row.name === "db01");
  assert.deepEqual(renderReport(LS_FIELDS, LS_SPECS, db01, MACHINE_SKIP), golden("ls_ms_name_db01"));
});

Deno.test("golden ls -m -f uid,name,size,valid,tags", () => {
  const fields = parseCsvRecord("uid,name,size,valid,tags");
  const flags = { ...MACHINE_SKIP, skipHeader: false };
  assert.deepEqual(renderReport(fields, LS_SPECS, lsRows(), flags), golden("ls_m_fields"));
});

Deno.test("ls -s: table without header, widths from the data", () => {
  const rows = lsRows().slice(0, 2);
  const expected = [
    "+---------------------+------+--+----+--------+--------------------------------------+---+---+" +
    "----------------------------+---------------------+",
    "| 2026-11-26 15:04:52 | db01 |  | 36 | 147456 | bb9dcf9a-e9aa-11f1-aa6b-02fc00000001 | 1 | 0 |" +
    " b_daily,b_monthly,b_weekly |                     |",
    "| 2026-11-26 15:04:53 | db01 |  | 36 | 147456 | bc3f522a-e9aa-11f1-aa6b-02fc00000001 | 1 | 0 |" +
    " daily,manual               | 2021-03-04 05:06:07 |",
    "+---------------------+------+--+----+--------+--------------------------------------+---+---+" +
    "----------------------------+---------------------+",
  ].join("\n") + "\n";
  assert.deepEqual(renderReport(LS_FIELDS, LS_SPECS, rows, { ...TABLE, skipHeader: true }), expected);
});

Deno.test("ls with no rows: table still printed, machine prints the header or nothing", () => {
  const fields = ["uid", "valid"];
  assert.equal(
    renderReport(fields, LS_SPECS, [], TABLE),
    "+-----+-------+\n| uid | valid |\n+-----+-------+\n+-----+-------+\n",
  );
  assert.equal(renderReport(fields, LS_SPECS, [], { ...TABLE, skipHeader: true }), "+--+--+\n+--+--+\n");
  assert.equal(renderReport(fields, LS_SPECS, [], { ...MACHINE_SKIP, skipHeader: false }), "uid|valid\n");
  assert.equal(renderReport(fields, LS_SPECS, [], MACHINE_SKIP), "");
});

Deno.test("golden stats: table, -r and -ms", () => {
  assert.deepEqual(renderReport(STATS_FIELDS, STATS_SPECS, statsRows(), TABLE), goldenTable("stats"));
  const humanized = renderReport(STATS_FIELDS, STATS_SPECS, statsRows(), { ...TABLE, humanReadable: true });
  assert.deepEqual(humanized, goldenTable("stats_r"));
  assert.deepEqual(renderReport(STATS_FIELDS, STATS_SPECS, statsRows(), MACHINE_SKIP), golden("stats_ms"));
});

Deno.test("golden du: table per version and machine output", () => {
  for (const n of ["1", "2"]) {
    const machine = golden(`du_m_${n}`);
    const [headerLine, ...lines] = machine.split("\n");
    assert.deepEqual(headerLine.split("|"), DU_FIELDS);
    const rows = machineRows(DU_FIELDS, lines.join("\n"));
    assert.deepEqual(renderReport(DU_FIELDS, DU_SPECS, rows, TABLE), goldenTable(`du_${n}`));
    assert.deepEqual(renderReport(DU_FIELDS, DU_SPECS, rows, { ...MACHINE_SKIP, skipHeader: false }), machine);
  }
  const all = machineRows(DU_FIELDS, golden("du_ms_all"));
  assert.deepEqual(renderReport(DU_FIELDS, DU_SPECS, all, MACHINE_SKIP), golden("du_ms_all"));
});

Deno.test("du -s: table without header (checked against PrettyTable 3.6)", () => {
  const rows = machineRows(DU_FIELDS, golden("du_m_1").split("\n").slice(1).join("\n"));
  assert.equal(
    renderReport(DU_FIELDS, DU_SPECS, rows, { ...TABLE, skipHeader: true }),
    "+--------+-------+---+--------+------+-------+------+\n" +
      "| 168936 | 61440 | 0 | 167936 | 1000 | 29625 | 1000 |\n" +
      "+--------+-------+---+--------+------+-------+------+\n",
  );
});

Deno.test("du -r humanizes every column", () => {
  const rows = [{ Real: "168936", Null: "61440", "Dedup Own": "0" }];
  const fields = ["Real", "Null", "Dedup Own"];
  assert.equal(renderReport(fields, DU_SPECS, rows, { ...MACHINE_SKIP, humanReadable: true }), "165 KiB|60 KiB|0\n");
});

Deno.test("renderReport: unknown field fails only with rows", () => {
  const fields = parseCsvRecord("uid, nosuch");
  const unknown = { name: "BackyError", message: "nosuch", quoted: true };
  assert.throws(() => renderReport(fields, LS_SPECS, lsRows(), TABLE), unknown);
  assert.throws(() => renderReport(fields, LS_SPECS, lsRows(), MACHINE_SKIP), unknown);
  assert.equal(renderReport(fields, LS_SPECS, [], MACHINE_SKIP), "");
});

const REPEATED_FIELD = { name: "BackyError", message: "Field names must be unique", quoted: false };

Deno.test("renderReport: repeated field fails in table mode only, even without rows", () => {
  const fields = ["uid", "uid"];
  assert.throws(() => renderReport(fields, LS_SPECS, [], TABLE), REPEATED_FIELD);
  const machine = renderReport(fields, LS_SPECS, lsRows().slice(0, 1), MACHINE_SKIP);
  assert.equal(machine, "bb9dcf9a-e9aa-11f1-aa6b-02fc00000001|bb9dcf9a-e9aa-11f1-aa6b-02fc00000001\n");
});

Deno.test("renderReport: repeated field is reported before an unknown one", () => {
  assert.throws(() => renderReport(["x", "x"], LS_SPECS, lsRows(), TABLE), REPEATED_FIELD);
});
