/** `backy2 sla [NAME] [-s SCHEDULERS] [-f FIELDS]` (behavior §12.2). */
import type { CommandContext } from "./context.ts";
import { notImplemented } from "./not_implemented.ts";

export function sla(_ctx: CommandContext): number {
  return notImplemented("sla");
}
