/** `backy2 du [VERSION_UID] [-f FIELDS]` (behavior §2.6, §14.2). */
import type { CommandContext } from "./context.ts";
import { notImplemented } from "./not_implemented.ts";

export function du(_ctx: CommandContext): number {
  return notImplemented("du");
}
