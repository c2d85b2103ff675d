/** `backy2 rm [-f] VERSION_UID` (behavior §10.1). */
import type { CommandContext } from "./context.ts";
import { notImplemented } from "./not_implemented.ts";

export function rm(_ctx: CommandContext): number {
  return notImplemented("rm");
}
