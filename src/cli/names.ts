/**
 * Names that `-m` output can carry. It separates fields with `|`, rows with line breaks and tags with
 * commas, and escapes nothing (as backy2 does), so a version name, snapshot name or tag holding one of those
 * would make scripts read the wrong fields. Such names are refused where they enter the catalog.
 */
import { pyRepr } from "../output/pystr.ts";
import { BackyError } from "../util/errors.ts";

const BREAKS_ROW = /[|\n\r]/;
const BREAKS_TAG_LIST = /[|,\n\r]/;

/** Refuses a version or snapshot name that would break a `-m` row. */
export function checkName(what: "Version name" | "Snapshot name", name: string): void {
  if (BREAKS_ROW.test(name)) {
    throw new BackyError(`${what} ${pyRepr(name)} contains '|' or a line break, which -m output cannot show.`);
  }
}

/** Refuses tags that would break a `-m` row or the comma-joined tags column. */
export function checkTags(tags: readonly string[]): void {
  for (const tag of tags) {
    if (BREAKS_TAG_LIST.test(tag)) {
      throw new BackyError(`Tag ${pyRepr(tag)} contains '|', ',' or a line break, which -m output cannot show.`);
    }
  }
}
