/**
 * `backy2 locks [-f FIELDS]`: the locks other processes hold. With a PostgreSQL catalog these are the leases
 * of every backup host (name, mode, host, pid, command, since, last heartbeat); with an SQLite catalog, the
 * lock files in lock_dir that some process holds (flock does not say which, so host, pid and command are
 * empty). Table, `-m` and `--json` like the other listings.
 */
import type { CommandContext } from "./context.ts";
import { type FieldSpecs, parseCsvRecord } from "../output/fields.ts";
import { renderReport } from "../output/report.ts";
import type { LockHolder } from "../lock/lock_manager.ts";

const shownTime = (iso: string | null) => (iso ? iso.slice(0, 19).replace("T", " ") : "");

export const LOCKS_FIELDS: FieldSpecs<LockHolder> = {
  name: { align: "l", value: (lock) => lock.name },
  mode: { align: "l", value: (lock) => lock.mode },
  host: { align: "l", value: (lock) => lock.host },
  pid: { align: "r", value: (lock) => (lock.pid ? lock.pid : ""), json: (lock) => (lock.pid ? lock.pid : null) },
  command: { align: "l", value: (lock) => lock.command },
  since: { align: "c", value: (lock) => shownTime(lock.since), json: (lock) => lock.since || null },
  heartbeat: { align: "c", value: (lock) => shownTime(lock.heartbeat), json: (lock) => lock.heartbeat },
};

export async function locks(ctx: CommandContext): Promise<number> {
  const fields = parseCsvRecord(ctx.string("fields")!);
  ctx.print(renderReport(fields, LOCKS_FIELDS, await ctx.locks.list(), ctx.reportFlags));
  return 0;
}
