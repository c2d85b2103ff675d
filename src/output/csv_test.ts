/** Unit tests of the dump CSV writer and reader against what Python's `csv` module writes and reads. */
import assert from "node:assert/strict";
import { csvRow, parseCsv } from "./csv.ts";

Deno.test("csvRow quotes minimally, doubles quotes and ends rows with CRLF, as Python's csv.writer", () => {
  // Python 3.11: csv.writer(f).writerow(['plain', 'a,b', 'say "hi"', 'line\nbreak', 'cr\rx', '', ' lead', 7])
  assert.equal(
    csvRow(["plain", "a,b", 'say "hi"', "line\nbreak", "cr\rx", "", " lead", 7]),
    'plain,"a,b","say ""hi""","line\nbreak","cr\rx",, lead,7\r\n',
  );
  assert.equal(csvRow([""]), '""\r\n');
  assert.equal(csvRow(["", ""]), ",\r\n");
});

Deno.test("parseCsv reads like csv.reader on a text-mode file, with the line each record starts on", () => {
  const text = 'a,"b,""c""",d\r\n\r\n"multi\r\nline",x"y"z,"q"tail\rlast,\n';
  // Python: list(csv.reader(io.StringIO(text, newline=None))), blank rows dropped.
  assert.deepEqual(parseCsv(text), [
    { line: 1, fields: ["a", 'b,"c"', "d"] },
    { line: 3, fields: ["multi\nline", 'x"y"z', "qtail"] },
    { line: 5, fields: ["last", ""] },
  ]);
  assert.deepEqual(parseCsv('x,"unterminated'), [{ line: 1, fields: ["x", "unterminated"] }]);
  assert.deepEqual(parseCsv(""), []);
});

Deno.test("what csvRow writes, parseCsv reads back", () => {
  const rows = [["uid", "name, with comma", 'quote "q"', "new\nline", ""], ["x"]];
  const text = rows.map((row) => csvRow(row)).join("");
  assert.deepEqual(parseCsv(text).map((record) => record.fields), rows);
});
