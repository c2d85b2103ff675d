/**
 * How a server command waits: until the program's {@link Interruption} records a stop signal (SIGINT, SIGTERM
 * or SIGHUP, through the listeners the program installs for every command) or the server ends by itself.
 */
import type { Interruption } from "../engine/interruption.ts";

/** How often the stop flag is looked at; a stop takes at most this long to begin. */
const POLL_MS = 100;

/** Resolves with "signal" after a stop signal, or "ended" once `ended` settles, whichever comes first. */
export async function untilStopped(interruption: Interruption, ended: Promise<unknown>): Promise<"signal" | "ended"> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const signalled = new Promise<"signal">((resolve) => {
    const check = () => interruption.requested ? resolve("signal") : timer = setTimeout(check, POLL_MS);
    check();
  });
  try {
    return await Promise.race([signalled, ended.then(() => "ended" as const, () => "ended" as const)]);
  } finally {
    clearTimeout(timer);
  }
}
