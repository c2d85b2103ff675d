/** `backy2 cleanup [-f] [-p PREFIX] [--dangerous-force]` (behavior §11). */
import type { CommandContext } from "./context.ts";
import { notImplemented } from "./not_implemented.ts";

export function cleanup(_ctx: CommandContext): number {
  return notImplemented("cleanup");
}
