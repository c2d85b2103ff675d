/** The answer of a command that is registered but not built yet (exit 100, like any failed command). */
import { BackyError, Exit } from "../util/errors.ts";

export function notImplemented(name: string): never {
  throw new BackyError(`The ${name} command is not implemented yet.`, { exitCode: Exit.notImplemented });
}
