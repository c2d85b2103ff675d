/**
 * `--json` output: listings as a JSON array of objects (one row per line), command results as one JSON object on
 * one line, and the typed values both use.
 *
 * Dates are ISO-8601 UTC with exactly six fraction digits (`2026-12-01T04:05:06.123456Z`), whatever precision
 * the value had: the catalog keeps microseconds, a stats row only seconds (`.000000`), and times this tool
 * computes milliseconds (`.123000`). One format means one parser for every date a script reads.
 */

import type { FieldSpecs } from "./fields.ts";
import { BackyError } from "../util/errors.ts";

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/** ISO-8601 UTC of catalog text (`YYYY-MM-DD HH:MM:SS[.ffffff]`, naive UTC), microseconds kept. */
export function isoFromCatalog(text: string): string {
  const [date, time = "00:00:00"] = text.trim().split(/[ T]/);
  const [hms, fraction = ""] = time.split(".");
  return `${date}T${hms}.${fraction.padEnd(6, "0").slice(0, 6)}Z`;
}

/** ISO-8601 UTC of a Date, in the same six-digit form as {@link isoFromCatalog}. */
export function isoFromDate(date: Date): string {
  return date.toISOString().replace(/\.(\d{3})Z$/, ".$1000Z");
}

/**
 * A listing as JSON: an array with one object per row, keyed by the requested field names in their order, each
 * value from the field's `json` accessor (its table value when it has none). An unknown field fails as it does
 * in a table (`'name'`, only once there is a row); a repeated field appears once.
 */
export function renderJsonRows<T>(fields: string[], specs: FieldSpecs<T>, rows: T[]): string {
  const lines = rows.map((row) => JSON.stringify(jsonRow(fields, specs, row)));
  return lines.length === 0 ? "[]\n" : `[\n${lines.join(",\n")}\n]\n`;
}

function jsonRow<T>(fields: string[], specs: FieldSpecs<T>, row: T): Record<string, JsonValue> {
  const out: Record<string, JsonValue> = {};
  for (const name of fields) {
    const spec = Object.hasOwn(specs, name) ? specs[name] : undefined;
    if (spec === undefined) throw new BackyError(name, { quoted: true });
    out[name] = spec.json ? spec.json(row) : spec.value(row);
  }
  return out;
}

/** One JSON object on one line. */
export function jsonLine(value: Record<string, JsonValue | undefined>): string {
  return `${JSON.stringify(value)}\n`;
}
