/** Tests for CSV field lists (expected values from Python 3.11's csv module) and field selection. */

import assert from "node:assert/strict";
import { type FieldSpecs, parseCsvRecord, selectFields } from "./fields.ts";

Deno.test("parseCsvRecord splits on commas and strips items", () => {
  assert.deepEqual(parseCsvRecord("daily, manual"), ["daily", "manual"]);
  assert.deepEqual(parseCsvRecord("uid,name,size,valid,tags"), ["uid", "name", "size", "valid", "tags"]);
  assert.deepEqual(parseCsvRecord(" , "), ["", ""]);
  assert.deepEqual(parseCsvRecord(","), ["", ""]);
});

Deno.test("parseCsvRecord honours double quotes", () => {
  assert.deepEqual(parseCsvRecord('"size bytes"'), ["size bytes"]);
  assert.deepEqual(parseCsvRecord('"size bytes",uid,"duration (s)"'), ["size bytes", "uid", "duration (s)"]);
  assert.deepEqual(parseCsvRecord('"a,b", c'), ["a,b", "c"]);
  assert.deepEqual(parseCsvRecord('"say ""hi""",x'), ['say "hi"', "x"]);
  assert.deepEqual(parseCsvRecord('"x"  ,y'), ["x", "y"]);
});

Deno.test("parseCsvRecord is lenient about stray quotes like the csv module", () => {
  assert.deepEqual(parseCsvRecord('a"b,c'), ['a"b', "c"]);
  assert.deepEqual(parseCsvRecord('"a"b,c'), ["ab", "c"]);
  assert.deepEqual(parseCsvRecord('"unterminated'), ["unterminated"]);
  assert.deepEqual(parseCsvRecord('a,"'), ["a", ""]);
});

Deno.test("parseCsvRecord reads only the first record", () => {
  assert.deepEqual(parseCsvRecord("a,b\nc"), ["a", "b"]);
  assert.deepEqual(parseCsvRecord('"a\nb",c'), ["a\nb", "c"]);
  assert.deepEqual(parseCsvRecord("a\r\nb"), ["a"]);
  assert.deepEqual(parseCsvRecord("a\r"), ["a"]);
  assert.deepEqual(parseCsvRecord("\nfoo"), []);
  assert.deepEqual(parseCsvRecord(""), []);
});

Deno.test("parseCsvRecord strips Python whitespace, not JS whitespace", () => {
  assert.deepEqual(parseCsvRecord("\x1c a\xa0, b\t"), ["a", "b"]);
  assert.deepEqual(parseCsvRecord("\ufeffa"), ["\ufeffa"]);
});

Deno.test("parseCsvRecord rejects a bare CR inside a line", () => {
  assert.throws(() => parseCsvRecord("a\rb"), {
    name: "BackyError",
    message: "new-line character seen in unquoted field - do you need to open the file in universal-newline mode?",
  });
});

interface Item {
  name: string;
  bytes: number;
}

const SPECS: FieldSpecs<Item> = {
  name: { align: "l", value: (r) => r.name },
  bytes: { align: "r", humanize: true, value: (r) => r.bytes },
  "size bytes": { align: "r", value: (r) => r.bytes },
};

Deno.test("selectFields builds columns and cells in the requested order", () => {
  const rows = [{ name: "a", bytes: 1536 }, { name: "b", bytes: 0 }];
  assert.deepEqual(selectFields(["bytes", "name"], SPECS, rows, false), {
    columns: [{ name: "bytes", align: "r" }, { name: "name", align: "l" }],
    cells: [["1536", "a"], ["0", "b"]],
  });
});

Deno.test("selectFields humanizes only humanizable fields and only when asked", () => {
  const rows = [{ name: "a", bytes: 1536 }];
  assert.deepEqual(selectFields(["name", "bytes", "size bytes"], SPECS, rows, true).cells, [["a", "2 KiB", "1536"]]);
});

Deno.test("selectFields throws a quoted error for an unknown field when there is a row", () => {
  assert.throws(() => selectFields(["name", "nope", "worse"], SPECS, [{ name: "a", bytes: 1 }], false), {
    name: "BackyError",
    message: "nope",
    quoted: true,
    exitCode: 100,
  });
});

Deno.test("selectFields accepts an unknown field when there are no rows", () => {
  assert.deepEqual(selectFields(["name", "nope"], SPECS, [], false), {
    columns: [{ name: "name", align: "l" }, { name: "nope", align: "c" }],
    cells: [],
  });
});

Deno.test("selectFields does not take object prototype names for fields", () => {
  assert.throws(() => selectFields(["constructor"], SPECS, [{ name: "a", bytes: 1 }], false), {
    name: "BackyError",
    message: "constructor",
    quoted: true,
  });
});
