/**
 * Date and time texts. Every timestamp backy2 handles is naive UTC, so a JS `Date` here always
 * means "these UTC fields"; the local time zone never enters.
 *
 * Owns: display formatting (`%Y-%m-%d %H:%M:%S`, microseconds dropped), parsing user-given expire
 * dates with the reference's strptime chain and its exact error texts, and the SQLite DATETIME text
 * form `YYYY-MM-DD HH:MM:SS.ffffff`.
 *
 * Microseconds: a `Date` holds milliseconds only. The catalog keeps timestamps as the SQLite text it
 * read wherever a value is only carried (ordering, export/import), because that text sorts correctly
 * and round-trips exactly; `Date` is used for arithmetic and display. Timestamps this tool creates
 * are written with millisecond precision padded to six digits (`.123000`).
 */

import { BackyError } from "../util/errors.ts";
import { PY_SPACE_CLASS, pyRepr } from "./pystr.ts";

const pad2 = (n: number) => String(n).padStart(2, "0");

/**
 * `%Y-%m-%d %H:%M:%S` of the UTC fields. The year is not zero-padded, as glibc's strftime (which
 * Python uses on Linux) prints years before 1000.
 */
export function formatDateTime(d: Date): string {
  return `${formatDate(d)} ${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())}:${pad2(d.getUTCSeconds())}`;
}

/** `%Y-%m-%d` of the UTC fields (year unpadded, like {@link formatDateTime}). */
export function formatDate(d: Date): string {
  return `${d.getUTCFullYear()}-${pad2(d.getUTCMonth() + 1)}-${pad2(d.getUTCDate())}`;
}

/** A Date for the given UTC fields, valid for years 0–99 too (which `Date.UTC` maps to 19xx). */
export function utcDate(year: number, month: number, day: number, hour = 0, minute = 0, second = 0, ms = 0): Date {
  const d = new Date(Date.UTC(2000, 0, 1, hour, minute, second, ms));
  d.setUTCFullYear(year, month - 1, day);
  return d;
}

const EXPIRE_FORMATS = ["%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d"];

/**
 * An expire date given on the command line: the formats above are tried in order (`%Y-%m-%d` means
 * midnight). On failure throws, with exit code 1 and no `Backy failed.` trailer, the message Python's
 * `datetime.strptime` gave for the last format, e.g. `time data 'foo' does not match format
 * '%Y-%m-%d'`, `unconverted data remains:  10:00`, `day is out of range for month`.
 */
export function parseExpire(input: string): Date {
  let message = "";
  for (const format of EXPIRE_FORMATS) {
    const result = strptime(input, format);
    if (result instanceof Date) return result;
    message = result;
  }
  throw new BackyError(message, { exitCode: 1, bare: true });
}

/** Regex source per strptime directive, copied from CPython 3.11's `_strptime.TimeRE`. */
const DIRECTIVES: Record<string, string> = {
  Y: "(\\p{Nd}\\p{Nd}\\p{Nd}\\p{Nd})",
  m: "(1[0-2]|0[1-9]|[1-9])",
  d: "(3[0-1]|[1-2]\\p{Nd}|0[1-9]|[1-9]| [1-9])",
  H: "(2[0-3]|[0-1]\\p{Nd}|\\p{Nd})",
  M: "([0-5]\\p{Nd}|\\p{Nd})",
  S: "(6[0-1]|[0-5]\\p{Nd}|\\p{Nd})",
};

/**
 * Python's `datetime.strptime(input, format)` for the directives above: a Date, or the ValueError
 * text it would raise. Like Python, the match is anchored at the start only, whitespace in the
 * format matches any run of whitespace, letters match case-insensitively and `\d` is any Unicode
 * decimal digit.
 */
export function strptime(input: string, format: string): Date | string {
  const { regex, order } = compileFormat(format);
  const match = regex.exec(input);
  if (match === null) return `time data ${pyRepr(input)} does not match format ${pyRepr(format)}`;
  if (match[0].length !== input.length) return `unconverted data remains: ${input.slice(match[0].length)}`;
  const values: Record<string, number> = { Y: 1900, m: 1, d: 1, H: 0, M: 0, S: 0 };
  order.forEach((directive, i) => values[directive] = digitsValue(match[i + 1]));
  return validDateTime(values);
}

const PY_SPACE = new RegExp(`[${PY_SPACE_CLASS}]`);

function compileFormat(format: string): { regex: RegExp; order: string[] } {
  const order: string[] = [];
  let source = "^";
  for (let i = 0; i < format.length; i++) {
    const ch = format[i];
    if (ch === "%" && DIRECTIVES[format[i + 1]] !== undefined) {
      order.push(format[++i]);
      source += DIRECTIVES[format[i]];
    } else if (PY_SPACE.test(ch)) {
      while (i + 1 < format.length && PY_SPACE.test(format[i + 1])) i++;
      source += `[${PY_SPACE_CLASS}]+`;
    } else {
      source += literal(ch);
    }
  }
  return { regex: new RegExp(source, "u"), order };
}

function literal(ch: string): string {
  const lower = ch.toLowerCase();
  const upper = ch.toUpperCase();
  if (lower !== upper) return `[${lower}${upper}]`;
  return ch.replace(/[\\^$.*+?()[\]{}|/]/g, "\\$&");
}

/**
 * Integer value of a run of Unicode decimal digits. Unicode encodes every decimal digit set as ten
 * consecutive code points 0–9, so a digit's value is its distance from the start of its run.
 */
function digitsValue(digits: string): number {
  let value = 0;
  for (const ch of digits) value = value * 10 + digitValue(ch);
  return value;
}

function digitValue(ch: string): number {
  let code = ch.codePointAt(0) ?? 0;
  let distance = 0;
  while (/\p{Nd}/u.test(String.fromCodePoint(code - 1))) {
    code--;
    distance++;
  }
  return distance % 10;
}

/** The checks, in order and with the texts, of CPython's `date()`/`datetime()` constructors. */
function validDateTime(v: Record<string, number>): Date | string {
  if (v.Y < 1 || v.Y > 9999) return `year ${v.Y} is out of range`;
  if (v.d > daysInMonth(v.Y, v.m)) return "day is out of range for month";
  if (v.S > 59) return "second must be in 0..59";
  return utcDate(v.Y, v.m, v.d, v.H, v.M, v.S);
}

function daysInMonth(year: number, month: number): number {
  if (month !== 2) return [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1];
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  return leap ? 29 : 28;
}

const CATALOG_DATETIME = /^(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T](\d{1,2}):(\d{1,2})(?::(\d{1,2})(?:\.(\d{1,9}))?)?)?$/;

/**
 * A SQLite DATETIME text (`YYYY-MM-DD HH:MM:SS[.ffffff]`, also a bare date as old DATE columns
 * held) as a Date; sub-millisecond digits are dropped. Throws SQLAlchemy's `Couldn't parse datetime
 * string: '{text}'` (exit 100) for anything else.
 */
export function parseCatalogDateTime(text: string): Date {
  const m = CATALOG_DATETIME.exec(text);
  if (m === null) throw new BackyError(`Couldn't parse datetime string: ${pyRepr(text)}`);
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map((part) => Number(part ?? 0));
  const ms = Number((m[7] ?? "").padEnd(3, "0").slice(0, 3));
  return utcDate(year, month, day, hour, minute, second, ms);
}

/** The text SQLAlchemy stores for a DATETIME: `YYYY-MM-DD HH:MM:SS.ffffff` (milliseconds + `000`). */
export function formatCatalogDateTime(d: Date): string {
  const date = `${String(d.getUTCFullYear()).padStart(4, "0")}-${pad2(d.getUTCMonth() + 1)}-${pad2(d.getUTCDate())}`;
  const time = `${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())}:${pad2(d.getUTCSeconds())}`;
  return `${date} ${time}.${String(d.getUTCMilliseconds()).padStart(3, "0")}000`;
}

/** Display form (`%Y-%m-%d %H:%M:%S`) of a catalog DATETIME text. */
export function displayCatalogDateTime(text: string): string {
  return formatDateTime(parseCatalogDateTime(text));
}
