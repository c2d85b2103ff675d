/** `backy2 due [NAME] [-s SCHEDULERS] [-f FIELDS]` (behavior §12.1). */
import type { CommandContext } from "./context.ts";
import { notImplemented } from "./not_implemented.ts";

export function due(_ctx: CommandContext): number {
  return notImplemented("due");
}
