/**
 * The few Python string semantics that leak into backy2's output: `repr()` of a str (inside error
 * messages), `str.strip()` (field and tag lists), `str()` of a cell value, `int()` of option text, and
 * which characters Python counts as whitespace (`str.isspace`, also what `\s` matches in `re`).
 */
import { BackyError } from "../util/errors.ts";

/** Body of a regex character class matching exactly Python's whitespace characters. */
export const PY_SPACE_CLASS =
  "\\t\\n\\v\\f\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000";

const STRIP = new RegExp(`^[${PY_SPACE_CLASS}]+|[${PY_SPACE_CLASS}]+$`, "g");

/** Python `str.strip()` with no argument (unlike JS `trim`, keeps U+FEFF and strips U+001C–U+001F). */
export function pyStrip(text: string): string {
  return text.replace(STRIP, "");
}

/** Python `str(value)` for the cell values backy2 prints: ints in full decimal, strings as they are. */
export function pyStr(value: string | number): string {
  if (typeof value === "string") return value;
  if (Number.isInteger(value)) return BigInt(value).toString();
  return String(value);
}

/** Characters `repr()` escapes: Python's non-printables (categories C* and Z* except the space). */
const NON_PRINTABLE = /[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}\p{Zl}\p{Zp}\p{Zs}]/u;

const SHORT_ESCAPES: Record<string, string> = { "\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r" };

/** Python `repr(text)` for a str: quote choice and escapes as CPython 3.11 does them. */
export function pyRepr(text: string): string {
  const quote = text.includes("'") && !text.includes('"') ? '"' : "'";
  let body = "";
  for (const ch of text) body += reprChar(ch, quote);
  return quote + body + quote;
}

function reprChar(ch: string, quote: string): string {
  if (ch === quote) return "\\" + ch;
  const short = SHORT_ESCAPES[ch];
  if (short !== undefined) return short;
  if (ch === " " || !NON_PRINTABLE.test(ch)) return ch;
  const code = ch.codePointAt(0) ?? 0;
  if (code < 0x100) return "\\x" + code.toString(16).padStart(2, "0");
  if (code < 0x10000) return "\\u" + code.toString(16).padStart(4, "0");
  return "\\U" + code.toString(16).padStart(8, "0");
}

const PY_INT = new RegExp(`^[${PY_SPACE_CLASS}]*[+-]?\\d+(?:_\\d+)*[${PY_SPACE_CLASS}]*$`);

/** Python's `int(text)` for decimal text, with its error message (exit 100) for anything else. */
export function parsePyInt(text: string): number {
  if (!PY_INT.test(text)) throw new BackyError(`invalid literal for int() with base 10: ${pyRepr(text)}`);
  return Number(pyStrip(text).replaceAll("_", ""));
}
