/**
 * Field lists: parsing a `-f`/`-t`/`-s` value as one CSV record the way the reference does
 * (`csv.reader(StringIO(text))`, first record, items stripped), and turning the requested field
 * names plus typed rows into table columns and cell strings.
 */

import { BackyError } from "../util/errors.ts";
import { humanize } from "./humanize.ts";
import { pyStr, pyStrip } from "./pystr.ts";
import type { Align, Column } from "./table.ts";
import type { JsonValue } from "./json.ts";

/**
 * The first record of `text` read like Python's `csv.reader` (excel dialect: `,` delimiter, `"`
 * quoting with doubled quotes, lenient about stray quotes), each item stripped of whitespace.
 *
 * Returns `[]` for `""` (where the reference's `[0]` would fail with `list index out of range`) and
 * for text starting with a newline (the reference's empty first record). A bare `\r` followed by
 * more text on the same line throws the csv module's error.
 */
export function parseCsvRecord(text: string): string[] {
  return new CsvRecordReader().read(text).map(pyStrip);
}

type CsvState = "startRecord" | "startField" | "inField" | "inQuoted" | "quoteInQuoted" | "eatCrnl";

const EOL = "";

/** A transcription of CPython's `_csv.c` reader state machine for one record. */
class CsvRecordReader {
  private state: CsvState = "startRecord";
  private fields: string[] = [];
  private field = "";

  read(text: string): string[] {
    // StringIO yields lines split after "\n" only; the reader is fed each line and then an EOL mark.
    for (const line of text.match(/[^\n]*\n|[^\n]+$/g) ?? []) {
      for (const ch of line) this.process(ch);
      this.process(EOL);
      if (this.state === "startRecord") return this.fields;
    }
    // Input ended inside a record: keep a pending field only if it has text or is an open quote.
    if (this.field !== "" || this.state === "inQuoted") this.saveField();
    return this.fields;
  }

  private saveField(): void {
    this.fields.push(this.field);
    this.field = "";
  }

  private endOfLine(ch: string): void {
    this.state = ch === EOL ? "startRecord" : "eatCrnl";
  }

  private process(ch: string): void {
    switch (this.state) {
      case "startRecord":
        if (ch === EOL) return;
        if (ch === "\n" || ch === "\r") {
          this.state = "eatCrnl";
          return;
        }
        this.state = "startField";
        return this.startField(ch);
      case "startField":
        return this.startField(ch);
      case "inField":
        return this.inField(ch);
      case "inQuoted":
        return this.inQuoted(ch);
      case "quoteInQuoted":
        return this.quoteInQuoted(ch);
      case "eatCrnl":
        return this.eatCrnl(ch);
    }
  }

  private startField(ch: string): void {
    if (ch === EOL || ch === "\n" || ch === "\r") {
      this.saveField();
      this.endOfLine(ch);
    } else if (ch === '"') {
      this.state = "inQuoted";
    } else if (ch === ",") {
      this.saveField();
    } else {
      this.field += ch;
      this.state = "inField";
    }
  }

  private inField(ch: string): void {
    if (ch === EOL || ch === "\n" || ch === "\r") {
      this.saveField();
      this.endOfLine(ch);
    } else if (ch === ",") {
      this.saveField();
      this.state = "startField";
    } else {
      this.field += ch;
    }
  }

  private inQuoted(ch: string): void {
    if (ch === EOL) return;
    if (ch === '"') this.state = "quoteInQuoted";
    else this.field += ch;
  }

  private quoteInQuoted(ch: string): void {
    if (ch === '"') {
      this.field += ch;
      this.state = "inQuoted";
    } else if (ch === ",") {
      this.saveField();
      this.state = "startField";
    } else if (ch === EOL || ch === "\n" || ch === "\r") {
      this.saveField();
      this.endOfLine(ch);
    } else {
      this.field += ch;
      this.state = "inField";
    }
  }

  private eatCrnl(ch: string): void {
    if (ch === EOL) this.state = "startRecord";
    else if (ch !== "\n" && ch !== "\r") {
      throw new BackyError(
        "new-line character seen in unquoted field - do you need to open the file in universal-newline mode?",
      );
    }
  }
}

/** How one selectable field is shown and computed from a row of type `T`. */
export interface FieldSpec<T> {
  align: Align;
  /** Shown through {@link humanize} when `-r` is given. */
  humanize?: boolean;
  value: (row: T) => string | number;
  /** The typed value under `--json` (booleans, numbers, ISO dates, arrays); defaults to `value`. */
  json?: (row: T) => JsonValue;
}

export type FieldSpecs<T> = Record<string, FieldSpec<T>>;

export interface SelectedFields {
  columns: Column[];
  cells: string[][];
}

/**
 * Columns and cell strings for the `requested` field names. An unknown name throws `'{name}'`
 * (exit 100), but only once a row is formatted, so an empty listing never fails; its column is
 * then centred (PrettyTable's default).
 */
export function selectFields<T>(
  requested: string[],
  available: FieldSpecs<T>,
  rows: T[],
  humanizeOn: boolean,
): SelectedFields {
  const columns = requested.map((name) => ({ name, align: specOf(available, name)?.align ?? "c" }));
  const cells = rows.map((row) => requested.map((name) => cellOf(available, name, row, humanizeOn)));
  return { columns, cells };
}

function specOf<T>(available: FieldSpecs<T>, name: string): FieldSpec<T> | undefined {
  return Object.hasOwn(available, name) ? available[name] : undefined;
}

function cellOf<T>(available: FieldSpecs<T>, name: string, row: T, humanizeOn: boolean): string {
  const spec = specOf(available, name);
  if (spec === undefined) throw new BackyError(name, { quoted: true });
  const value = spec.value(row);
  return humanizeOn && spec.humanize && typeof value === "number" ? humanize(value) : pyStr(value);
}
