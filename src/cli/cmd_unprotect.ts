/** `backy2 unprotect VERSION_UID` (behavior §2.6, §10.2). */
import type { CommandContext } from "./context.ts";
import { notImplemented } from "./not_implemented.ts";

export function unprotect(_ctx: CommandContext): number {
  return notImplemented("unprotect");
}
