/** `backy2 diff-meta VERSION_UID1 VERSION_UID2` (behavior §2.6). */
import type { CommandContext } from "./context.ts";
import { notImplemented } from "./not_implemented.ts";

export function diffMeta(_ctx: CommandContext): number {
  return notImplemented("diff-meta");
}
