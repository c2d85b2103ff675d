/** Tests for CSV field lists (expected values from Python 3.11's csv module) and field selection. */

import { assertEquals, assertThrows } from "./test_assert.ts";
import { BackyError } from "../util/errors.ts";
import { type FieldSpecs, parseCsvRecord, selectFields } from "./fields.ts";

Deno.test("parseCsvRecord splits on commas and strips items", () => {
  assertEquals(parseCsvRecord("daily, manual"), ["daily", "manual"]);
  assertEquals(parseCsvRecord("uid,name,size,valid,tags"), ["uid", "name", "size", "valid", "tags"]);
  assertEquals(parseCsvRecord(" , "), ["", ""]);
  assertEquals(parseCsvRecord(","), ["", ""]);
});

Deno.test("parseCsvRecord honours double quotes", () => {
  assertEquals(parseCsvRecord('"size bytes"'), ["size bytes"]);
  assertEquals(parseCsvRecord('"size bytes",uid,"duration (s)"'), ["size bytes", "uid", "duration (s)"]);
  assertEquals(parseCsvRecord('"a,b", c'), ["a,b", "c"]);
  assertEquals(parseCsvRecord('"say ""hi""",x'), ['say "hi"', "x"]);
  assertEquals(parseCsvRecord('"x"  ,y'), ["x", "y"]);
});

Deno.test("parseCsvRecord is lenient about stray quotes like the csv module", () => {
  assertEquals(parseCsvRecord('a"b,c'), ['a"b', "c"]);
  assertEquals(parseCsvRecord('"a"b,c'), ["ab", "c"]);
  assertEquals(parseCsvRecord('"unterminated'), ["unterminated"]);
  assertEquals(parseCsvRecord('a,"'), ["a", ""]);
});

Deno.test("parseCsvRecord reads only the first record", () => {
  assertEquals(parseCsvRecord("a,b\nc"), ["a", "b"]);
  assertEquals(parseCsvRecord('"a\nb",c'), ["a\nb", "c"]);
  assertEquals(parseCsvRecord("a\r\nb"), ["a"]);
  assertEquals(parseCsvRecord("a\r"), ["a"]);
  assertEquals(parseCsvRecord("\nfoo"), []);
  assertEquals(parseCsvRecord(""), []);
});

Deno.test("parseCsvRecord strips Python whitespace, not JS whitespace", () => {
  assertEquals(parseCsvRecord("\x1c a\xa0, b\t"), ["a", "b"]);
  assertEquals(parseCsvRecord("\ufeffa"), ["\ufeffa"]);
});

Deno.test("parseCsvRecord rejects a bare CR inside a line", () => {
  const error = assertThrows(() => parseCsvRecord("a\rb"), BackyError);
  assertEquals(
    error.message,
    "new-line character seen in unquoted field - do you need to open the file in universal-newline mode?",
  );
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
  assertEquals(selectFields(["bytes", "name"], SPECS, rows, false), {
    columns: [{ name: "bytes", align: "r" }, { name: "name", align: "l" }],
    cells: [["1536", "a"], ["0", "b"]],
  });
});

Deno.test("selectFields humanizes only humanizable fields and only when asked", () => {
  const rows = [{ name: "a", bytes: 1536 }];
  assertEquals(selectFields(["name", "bytes", "size bytes"], SPECS, rows, true).cells, [["a", "2 KiB", "1536"]]);
});

Deno.test("selectFields throws a quoted error for an unknown field when there is a row", () => {
  const error = assertThrows(
    () => selectFields(["name", "nope", "worse"], SPECS, [{ name: "a", bytes: 1 }], false),
    BackyError,
  );
  assertEquals(error.render(), "'nope'");
  assertEquals(error.exitCode, 100);
});

Deno.test("selectFields accepts an unknown field when there are no rows", () => {
  assertEquals(selectFields(["name", "nope"], SPECS, [], false), {
    columns: [{ name: "name", align: "l" }, { name: "nope", align: "c" }],
    cells: [],
  });
});

Deno.test("selectFields does not take object prototype names for fields", () => {
  const error = assertThrows(() => selectFields(["constructor"], SPECS, [{ name: "a", bytes: 1 }], false), BackyError);
  assertEquals(error.render(), "'constructor'");
});
