/** Tests for the PrettyTable-compatible renderer; expected texts were produced by PrettyTable 3.6. */

import { assertEquals, assertThrows } from "./test_assert.ts";
import { BackyError } from "../util/errors.ts";
import { displayWidth, justify, renderTable } from "./table.ts";

Deno.test("justify centres like str.center: extra space left of even-length text", () => {
  assertEquals(justify("date", 19, "c"), "        date       ");
  assertEquals(justify("expire", 19, "c"), "       expire      ");
  assertEquals(justify("uid", 36, "c"), "                uid                 ");
});

Deno.test("justify centres like str.center: extra space right of odd-length text", () => {
  assertEquals(justify("1", 5, "c"), "  1  ");
  assertEquals(justify("1", 9, "c"), "    1    ");
  assertEquals(justify("x", 4, "c"), " x  ");
  assertEquals(justify("ab", 5, "c"), "  ab ");
  assertEquals(justify("valid", 5, "c"), "valid");
});

Deno.test("justify left and right", () => {
  assertEquals(justify("ab", 5, "l"), "ab   ");
  assertEquals(justify("ab", 5, "r"), "   ab");
  assertEquals(justify("", 3, "c"), "   ");
});

Deno.test("displayWidth measures terminal columns like wcwidth's wcswidth", () => {
  assertEquals(displayWidth("abc"), 3);
  assertEquals(displayWidth(""), 0);
  assertEquals(displayWidth("日本語"), 6, "East Asian wide");
  assertEquals(displayWidth("한국어"), 6, "Hangul syllables");
  assertEquals(displayWidth("ＡＢ"), 4, "fullwidth forms");
  assertEquals(displayWidth("😀é"), 3, "an emoji is wide, é is narrow");
  assertEquals(displayWidth("e\u0301"), 1, "a combining accent takes no column");
  assertEquals(displayWidth("a\u200bb"), 2, "a zero-width space takes no column");
  assertEquals(displayWidth("\u3000x"), 3, "the ideographic space is wide");
  assertEquals(displayWidth("a\tb"), -1, "a control character makes the width -1, as wcswidth returns");
  assertEquals(displayWidth("\x1b[31mred\x1b[0m"), 3, "PrettyTable strips colour codes first");
});

Deno.test("justify pads by display width; a width of -1 counts as odd like Python's -1 % 2", () => {
  assertEquals(justify("日本", 6, "c"), " 日本 ");
  assertEquals(justify("日本", 5, "c"), " 日本", "even width: the extra space goes left");
  assertEquals(justify("a\tb", 2, "c"), " a\tb  ");
  assertEquals(justify("a\tb", 1, "l"), "a\tb  ");
});

Deno.test("renderTable aligns CJK, emoji and combining marks by display width", () => {
  const columns = [{ name: "name", align: "l" as const }, { name: "uid", align: "c" as const }];
  assertEquals(
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
  assertEquals(
    renderTable(COLUMNS, ROWS, { header: true }),
    "+------+----+-------+\n|  ab  |  c | hello |\n+------+----+-------+\n|  x   | yy |   z   |\n" +
      "| four |  1 |   22  |\n+------+----+-------+",
  );
});

Deno.test("renderTable without header takes widths from the cells only", () => {
  assertEquals(
    renderTable(COLUMNS, ROWS, { header: false }),
    "+------+----+----+\n|  x   | yy | z  |\n| four |  1 | 22 |\n+------+----+----+",
  );
});

Deno.test("renderTable with zero rows: rule, header, rule, rule", () => {
  const columns = [{ name: "a", align: "c" as const }, { name: "bb", align: "l" as const }];
  assertEquals(renderTable(columns, [], { header: true }), "+---+----+\n| a | bb |\n+---+----+\n+---+----+");
  assertEquals(renderTable(columns, [], { header: false }), "+--+--+\n+--+--+");
});

Deno.test("renderTable splits multi-line cells, top-aligned", () => {
  assertEquals(
    renderTable([{ name: "n", align: "c" }], [["a\nbbb\ncc"], ["d"]], { header: true }),
    "+-----+\n|  n  |\n+-----+\n|  a  |\n| bbb |\n|  cc |\n|  d  |\n+-----+",
  );
  assertEquals(
    renderTable([{ name: "a", align: "l" }, { name: "bb", align: "c" }], [["x\nyy", "1"]], { header: true }),
    "+----+----+\n| a  | bb |\n+----+----+\n| x  | 1  |\n| yy |    |\n+----+----+",
  );
});

Deno.test("renderTable with no columns matches PrettyTable", () => {
  assertEquals(renderTable([], [], { header: true }), "++\n||\n++\n++");
  assertEquals(renderTable([], [[]], { header: true }), "++\n||\n++\n\n++");
});

Deno.test("renderTable refuses repeated column names", () => {
  const columns = [{ name: "a", align: "c" as const }, { name: "a", align: "c" as const }];
  const error = assertThrows(() => renderTable(columns, [], { header: true }), BackyError);
  assertEquals(error.render(), "Field names must be unique");
  assertEquals(error.exitCode, 100);
});
