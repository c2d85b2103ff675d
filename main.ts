/** The `backy2` executable: runs the command line and exits with its code. */
import { run } from "./src/cli/program.ts";

if (import.meta.main) {
  Deno.exit(await run(Deno.args));
}
