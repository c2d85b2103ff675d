/**
 * The bordered table every listing command prints without `-m`: a byte-for-byte copy of Python
 * PrettyTable 3.6's default style as backy2 uses it.
 *
 * Owns column widths (in display columns, see ./wcwidth.ts), justification (including PrettyTable's
 * odd-padding centring rule), the rule lines, header on/off and multi-line cells. It knows nothing about fields or values: callers pass
 * the final cell strings.
 */

import { BackyError } from "../util/errors.ts";
import { displayWidth } from "./wcwidth.ts";

export { displayWidth };

/** PrettyTable alignment codes: left, right, centre. */
export type Align = "l" | "r" | "c";

export interface Column {
  name: string;
  align: Align;
}

export interface TableOptions {
  /** Print the header line (false under `-s`; widths then come from the cells only). */
  header: boolean;
}

/** Pads `text` to `width` like PrettyTable's `_justify`; "c" matches Python's `str.center`. */
export function justify(text: string, width: number, align: Align): string {
  const textWidth = displayWidth(text);
  const excess = Math.max(0, width - textWidth);
  if (align === "l") return text + " ".repeat(excess);
  if (align === "r") return " ".repeat(excess) + text;
  const half = Math.floor(excess / 2);
  if (excess % 2 === 0) return " ".repeat(half) + text + " ".repeat(half);
  // Odd excess: the extra space goes right of odd-width text and left of even-width text (-1 counts as odd).
  return textWidth % 2 !== 0
    ? " ".repeat(half) + text + " ".repeat(half + 1)
    : " ".repeat(half + 1) + text + " ".repeat(half);
}

/**
 * Renders the table WITHOUT a trailing newline (the reference prints it with one).
 *
 * Layout with header: rule, header, rule, rows, rule (zero rows: rule, header, rule, rule).
 * Without header: rule, rows, rule. A cell containing `\n` spans several lines, top-aligned.
 * Throws `Field names must be unique` (exit 100) for repeated column names, as PrettyTable does.
 */
export function renderTable(columns: Column[], rows: string[][], options: TableOptions): string {
  assertUniqueNames(columns.map((c) => c.name));
  const cells = rows.map((row) => columns.map((_, i) => (row[i] ?? "").split("\n")));
  const widths = columnWidths(columns, cells, options.header);
  const rule = ruleLine(widths);
  const lines = [rule];
  if (options.header) lines.push(headerLine(columns, widths), rule);
  for (const row of cells) lines.push(...rowLines(columns, widths, row));
  lines.push(rule);
  return lines.join("\n");
}

/** PrettyTable's `Field names must be unique` (a ValueError: exit 100, printed unquoted). */
export function assertUniqueNames(names: string[]): void {
  if (new Set(names).size !== names.length) {
    throw new BackyError("Field names must be unique");
  }
}

function columnWidths(columns: Column[], cells: string[][][], header: boolean): number[] {
  return columns.map((column, i) => {
    let width = header ? displayWidth(column.name) : 0;
    for (const row of cells) {
      for (const line of row[i]) width = Math.max(width, displayWidth(line));
    }
    return width;
  });
}

function ruleLine(widths: number[]): string {
  if (widths.length === 0) return "++";
  return "+" + widths.map((w) => "-".repeat(w + 2) + "+").join("");
}

function headerLine(columns: Column[], widths: number[]): string {
  if (columns.length === 0) return "||";
  return "|" + columns.map((c, i) => ` ${justify(c.name, widths[i], c.align)} |`).join("");
}

/** One text line per line of the tallest cell; a row with no columns is a single empty line. */
function rowLines(columns: Column[], widths: number[], row: string[][]): string[] {
  if (columns.length === 0) return [""];
  const height = Math.max(...row.map((lines) => lines.length));
  const out: string[] = [];
  for (let y = 0; y < height; y++) {
    out.push("|" + columns.map((c, i) => ` ${justify(row[i][y] ?? "", widths[i], c.align)} |`).join(""));
  }
  return out;
}
