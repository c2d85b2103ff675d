/** `backy2 scrub VERSION_UID [-s SOURCE] [-p PERCENT]` (behavior §8, §9). */
import type { CommandContext } from "./context.ts";
import { notImplemented } from "./not_implemented.ts";

export function scrub(_ctx: CommandContext): number {
  return notImplemented("scrub");
}
