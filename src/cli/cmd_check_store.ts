/**
 * `backy2 check-store [--repair]`: lists the differences between the catalog and the metadata (version headers
 * and page objects) in the block store (src/meta/check.ts), one row each (`-m`, `-s` and `--json` as for every
 * listing). `--repair` writes the headers and page objects of committed versions again from the catalog: the
 * one-time step for stores made before this tool wrote them, and for catalogs brought over from backy2. Exit 0
 * when nothing (or nothing left unrepaired) is wrong, 20 otherwise.
 */
import type { CommandContext } from "./context.ts";
import type { FieldSpecs } from "../output/fields.ts";
import { renderReport } from "../output/report.ts";
import { checkStore, FAULTS, type Finding } from "../meta/check.ts";
import { BackyError, Exit, heldBy } from "../util/errors.ts";

const FIELDS: FieldSpecs<Finding> = {
  uid: { align: "c", value: (f) => f.uid },
  name: { align: "l", value: (f) => f.name },
  state: { align: "l", value: (f) => f.state },
  repaired: { align: "c", value: (f) => (f.repaired ? 1 : 0), json: (f) => f.repaired },
  detail: { align: "l", value: (f) => f.detail },
};

export async function checkStoreCommand(ctx: CommandContext): Promise<number> {
  const repair = ctx.flag("repair");
  await ctx.openStore();
  // Held exclusively while repairing, so that no backup commits a version whose metadata is being rewritten.
  await using _lease = repair
    ? await ctx.locks.acquire(
      "backy",
      "exclusive",
      (holder) => new BackyError(heldBy("Other backy instances are running.", holder), { quoted: true }),
    )
    : null;
  const findings = await checkStore(ctx.engine, repair);
  ctx.print(renderReport(Object.keys(FIELDS), FIELDS, findings, ctx.reportFlags));
  const left = findings.filter((f) => FAULTS.has(f.state) && !f.repaired).length;
  const repaired = findings.filter((f) => f.repaired).length;
  const summary = `check-store: ${findings.length} differences, ${repaired} repaired, ${left} left.`;
  if (left === 0) {
    ctx.log.info(summary);
    return Exit.ok;
  }
  ctx.log.error(summary);
  ctx.report.fail(summary);
  return Exit.scrubFailed;
}
