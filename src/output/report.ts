/**
 * The one entry point every listing command (ls, stats, du, due, sla, enforce) uses to turn typed rows
 * into what it writes to stdout, honouring the global `-m` (machine), `-s` (skip header), `-r` (human
 * readable) and `--json` flags: a listing that renders through here gets all of them.
 */

import { type FieldSpecs, selectFields } from "./fields.ts";
import { renderMachine } from "./machine.ts";
import { renderJsonRows } from "./json.ts";
import { assertUniqueNames, renderTable } from "./table.ts";

export interface ReportFlags {
  /** `-m`: `|`-separated lines instead of a table. */
  machine: boolean;
  /** `-s`: no header line (table or machine). */
  skipHeader: boolean;
  /** `-r`: humanize the fields whose spec says so. */
  humanReadable: boolean;
  /** `--json`: a JSON array of typed rows (`-s` and `-r` do not apply). */
  json?: boolean;
}

/**
 * The exact stdout text for a listing, trailing newline included, or `""` when the reference prints
 * nothing (machine output with `-s` and no rows). A table is always printed, even with no rows.
 *
 * `fields` are the requested names in order (see `parseCsvRecord`); `specs` describes every field
 * the command knows. Throws `'{field}'` (exit 100) for an unknown field when there is a row, and
 * `Field names must be unique` for a repeated field in table mode (PrettyTable refuses them; machine
 * output does not care).
 */
export function renderReport<T>(fields: string[], specs: FieldSpecs<T>, rows: T[], flags: ReportFlags): string {
  if (flags.json) return renderJsonRows(fields, specs, rows);
  const header = !flags.skipHeader;
  // PrettyTable rejects repeated names when they are set, before any row is formatted.
  if (!flags.machine) assertUniqueNames(fields);
  const { columns, cells } = selectFields(fields, specs, rows, flags.humanReadable);
  if (!flags.machine) return renderTable(columns, cells, { header }) + "\n";
  if (!header && cells.length === 0) return "";
  return renderMachine(fields, cells, { header }) + "\n";
}
