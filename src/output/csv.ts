/**
 * CSV as Python's `csv` module writes and reads it with the default `excel` dialect, which is what backy2's
 * metadata dumps are: comma delimiter, `"` quote character, minimal quoting (only fields holding a comma, a
 * quote, CR or LF are quoted; quotes are doubled), CRLF after every row.
 *
 * A small writer and reader of our own instead of `csv-stringify`/`csv-parse`: the dumps need exactly these
 * few rules, and the reader must report the line each record starts on for import error messages.
 */

const NEEDS_QUOTES = /[",\r\n]/;

/** One field as Python's minimal quoting writes it. */
function csvField(value: string): string {
  return NEEDS_QUOTES.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
}

/**
 * One row with its CRLF. Like Python, a row of a single empty field is written as `""` so that it does not
 * read back as a blank line.
 */
export function csvRow(fields: readonly (string | number)[]): string {
  if (fields.length === 1 && fields[0] === "") return '""\r\n';
  return fields.map((field) => csvField(String(field))).join(",") + "\r\n";
}

/** A parsed record and the (1-based) line of the text it starts on. */
export interface CsvRecord {
  line: number;
  fields: string[];
}

/** A reader's position in the text. */
interface Cursor {
  text: string;
  pos: number;
  line: number;
}

/**
 * Parses CSV text the way backy2 reads a dump: a file opened in Python's text mode (universal newlines: CRLF
 * and CR become LF, also inside quoted fields) through `csv.reader` (excel dialect, not strict). A quoted
 * field may hold delimiters, quotes (doubled) and line breaks; characters after a closing quote are kept; a
 * quote inside an unquoted field is an ordinary character. Blank lines yield no record (Python yields an
 * empty list for them, which no dump row can be).
 */
export function parseCsv(text: string): CsvRecord[] {
  const cursor: Cursor = { text: text.replace(/\r\n?/g, "\n"), pos: 0, line: 1 };
  const records: CsvRecord[] = [];
  while (cursor.pos < cursor.text.length) {
    const line = cursor.line;
    if (atLineEnd(cursor)) {
      skipLineEnd(cursor);
      continue;
    }
    records.push({ line, fields: readSimpleLine(cursor) ?? readRecord(cursor) });
  }
  return records;
}

/** The fast path for the usual line without quotes: split at commas. Null (nothing read) for a line with quotes. */
function readSimpleLine(cursor: Cursor): string[] | null {
  const { text, pos } = cursor;
  let end = text.indexOf("\n", pos);
  if (end < 0) end = text.length;
  const line = text.slice(pos, end);
  if (line.includes('"')) return null;
  cursor.pos = Math.min(end + 1, text.length);
  cursor.line++;
  return line.split(",");
}

function atLineEnd(cursor: Cursor): boolean {
  return cursor.text[cursor.pos] === "\n";
}

function skipLineEnd(cursor: Cursor): void {
  cursor.pos++;
  cursor.line++;
}

function readRecord(cursor: Cursor): string[] {
  const fields: string[] = [];
  for (;;) {
    fields.push(readField(cursor));
    if (cursor.pos >= cursor.text.length) return fields;
    if (atLineEnd(cursor)) {
      skipLineEnd(cursor);
      return fields;
    }
    cursor.pos++; // the comma
  }
}

function readField(cursor: Cursor): string {
  const quoted = cursor.text[cursor.pos] === '"' ? readQuoted(cursor) : "";
  return quoted + readUnquoted(cursor);
}

const FIELD_END = /[,\n]/g;

/** Characters up to the next comma or line end. */
function readUnquoted(cursor: Cursor): string {
  FIELD_END.lastIndex = cursor.pos;
  const end = FIELD_END.exec(cursor.text)?.index ?? cursor.text.length;
  const value = cursor.text.slice(cursor.pos, end);
  cursor.pos = end;
  return value;
}

/** A quoted field's content; leaves the cursor after its closing quote (or at the end of the text). */
function readQuoted(cursor: Cursor): string {
  const { text } = cursor;
  let value = "";
  cursor.pos++;
  while (cursor.pos < text.length) {
    const ch = text[cursor.pos++];
    if (ch === '"') {
      if (text[cursor.pos] !== '"') return value;
      cursor.pos++;
    } else if (ch === "\n") {
      cursor.line++;
    }
    value += ch;
  }
  return value;
}
