/** `backy2 add-tag VERSION_UID NAME[,NAME...]` (behavior §2.6, §10.3). */
import type { CommandContext } from "./context.ts";
import { notImplemented } from "./not_implemented.ts";

export function addTag(_ctx: CommandContext): number {
  return notImplemented("add-tag");
}
