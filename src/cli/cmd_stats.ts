/** `backy2 stats [VERSION_UID] [-f FIELDS] [-l LIMIT]` (behavior §2.6, §14.3). */
import type { CommandContext } from "./context.ts";
import { notImplemented } from "./not_implemented.ts";

export function stats(_ctx: CommandContext): number {
  return notImplemented("stats");
}
