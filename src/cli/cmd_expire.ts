/** `backy2 expire VERSION_UID EXPIRE` (behavior §2.6, §10.4). */
import type { CommandContext } from "./context.ts";
import { notImplemented } from "./not_implemented.ts";

export function expire(_ctx: CommandContext): number {
  return notImplemented("expire");
}
