/** Tests for the PrettyTable-compatible renderer; expected texts were produced by PrettyTable 3.6. */

import assert from "node:assert/strict";
import { displayWidth, justify, renderTable } from "./table.ts";

Deno.test("justify centres like str.center: extra space left of even-length text", () => {
  assert.equal(justify("date", 19, "c"), "        date       ");
  assert.equal(justify("expire", 19, "c"), "       expire      ");
  assert.equal(justify("uid", 36, "c"), "                uid                 ");
});

Deno.test("justify centres like str.center: extra space right of odd-length text", () => {
  assert.equal(justify("1", 5, "c"), "  1  ");
  assert.equal(justify("1", 9, "c"), "    1    ");
  assert.equal(justify("x", 4, "c"), " x  ");
  assert.equal(justify("ab", 5, "c"), "  ab ");
  assert.equal(justify("valid", 5, "c"), "valid");
});

Deno.test("justify left and right", () => {
  assert.equal(justify("ab", 5, "l"), "ab   ");
  assert.equal(justify("ab", 5, "r"), "   ab");
  assert.equal(justify("", 3, "c"), "   ");
});

Deno.test("displayWidth measures terminal columns like wcwidth's wcswidth", () => {
  assert.equal(displayWidth("abc"), 3);
  assert.equal(displayWidth(""), 0);
  assert.equal(displayWidth("日本語"), 6, "East Asian wide");
  assert.equal(displayWidth("한국어"), 6, "Hangul syllables");
  assert.equal(displayWidth("ＡＢ"), 4, "fullwidth forms");
  assert.equal(displayWidth("😀é"), 3, "an emoji is wide, é is narrow");
  assert.equal(displayWidth("e\u0301"), 1, "a combining accent takes no column");
  assert.equal(displayWidth("a\u200bb"), 2, "a zero-width space takes no column");
  assert.equal(displayWidth("\u3000x"), 3, "the ideographic space is wide");
  assert.equal(displayWidth("a\tb"), -1, "a control character makes the width -1, as wcswidth returns");
  assert.equal(displayWidth("\x1b[31mred\x1b[0m"), 3, "PrettyTable strips colour codes first");
});

Deno.test("justify pads by display width; a width of -1 counts as odd like Python's -1 % 2", () => {
  assert.equal(justify("日本", 6, "c"), " 日本 ");
  assert.equal(justify("日本", 5, "c"), " 日本", "even width: the extra space goes left");
  assert.equal(justify("a\tb", 2, "c"), " a\tb  ");
  assert.equal(justify("a\tb", 1, "l"), "a\tb  ");
});

Deno.test("renderTable aligns CJK, emoji and combining marks by display width", () => {
  const columns = [{ name: "name", align: "l" as const }, { name: "uid", align: "c" as const }];
  assert.equal(
    renderTable(columns, [["日本", "x"], ["e\u0301te", "yy"], ["😀", "z"]], { header: true }),
    "+------+-----+\n| name | uid |\n+------+-----+\n| 日本 |  x  |\n| e\u0301te  |  yy |\n| 😀   |  z  |\n" +
      "+------+-----+",
  );
});

const COLUMNS = [
  { name: "ab", align: "c" as const },
  { name: "c", align: "r" as const },
  { name: "hello", align: "c" as const },
];
const ROWS = [["x", "yy", "z"], ["four", "1", "22"]];

Deno.test("renderTable with header", () => {
  assert.equal(
    renderTable(COLUMNS, ROWS, { header: true }),
    "+------+----+-------+\n|  ab  |  c | hello |\n+------+----+-------+\n|  x   | yy |   z   |\n" +
      "| four |  1 |   22  |\n+------+----+-------+",
  );
});

Deno.test("renderTable without header takes widths from the cells only", () => {
  assert.equal(
    renderTable(COLUMNS, ROWS, { header: false }),
    "+------+----+----+\n|  x   | yy | z  |\n| four |  1 | 22 |\n+------+----+----+",
  );
});

Deno.test("renderTable with zero rows: rule, header, rule, rule", () => {
  const columns = [{ name: "a", align: "c" as const }, { name: "bb", align: "l" as const }];
  assert.equal(renderTable(columns, [], { header: true }), "+---+----+\n| a | bb |\n+---+----+\n+---+----+");
  assert.equal(renderTable(columns, [], { header: false }), "+--+--+\n+--+--+");
});

Deno.test("renderTable splits multi-line cells, top-aligned", () => {
  assert.equal(
    renderTable([{ name: "n", align: "c" }], [["a\nbbb\ncc"], ["d"]], { header: true }),
    "+-----+\n|  n  |\n+-----+\n|  a  |\n| bbb |\n|  cc |\n|  d  |\n+-----+",
  );
  assert.equal(
    renderTable([{ name: "a", align: "l" }, { name: "bb", align: "c" }], [["x\nyy", "1"]], { header: true }),
    "+----+----+\n| a  | bb |\n+----+----+\n| x  | 1  |\n| yy |    |\n+----+----+",
  );
});

Deno.test("renderTable with no columns matches PrettyTable", () => {
  assert.equal(renderTable([], [], { header: true }), "++\n||\n++\n++");
  assert.equal(renderTable([], [[]], { header: true }), "++\n||\n++\n\n++");
});

Deno.test("renderTable refuses repeated column names", () => {
  const columns = [{ name: "a", align: "c" as const }, { name: "a", align: "c" as const }];
  assert.throws(() => renderTable(columns, [], { header: true }), {
    name: "BackyError",
    message: "Field names must be unique",
    quoted: false,
    exitCode: 100,
  });
});
