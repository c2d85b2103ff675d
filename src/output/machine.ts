/**
 * Machine output (`-m`): a `|`-joined header line (omitted under `-s`) and one
 * `|`-joined line per row. Values are not escaped, exactly like the reference.
 */

export interface MachineOptions {
  /** Print the field-name line first (false under `-s`). */
  header: boolean;
}

/** Lines joined with `\n`, no trailing newline; `""` when there is nothing to print. */
export function renderMachine(fields: string[], rows: string[][], options: MachineOptions): string {
  const lines = rows.map((row) => row.join("|"));
  if (options.header) lines.unshift(fields.join("|"));
  return lines.join("\n");
}
