/**
 * The `backy2` program: parses the command line, loads the configuration, sets up logging, runs one
 * command and turns its outcome into the reference's closing lines and exit codes.
 *
 * It also decides what SIGINT, SIGTERM and SIGHUP do: the first one ends a read-only command at once and lets
 * any other command stop at its next safe point (backup, restore and scrub check between blocks; the rest
 * finish); a second one ends the process at once. Either way the exit code is the signal's (130, 143, 129).
 */
import { formatUsage, parseArgs } from "./args.ts";
import { BACKY2_SPEC } from "./spec.ts";
import { type Args, CommandContext, type GlobalFlags } from "./context.ts";
import { type Config, loadConfig } from "../config/config.ts";
import { Logger, writeAll } from "../log/logger.ts";
import { BackyError, Exit, heldBy } from "../util/errors.ts";
import { notImplemented } from "./not_implemented.ts";
import { CommandTimer, configFailure, oneLine, type Outcome, printResult } from "./outcome.ts";
import { readCatalogFacts, writeMetrics } from "../metrics/write.ts";
import {
  listenForStopSignals,
  signalExitCode,
  type StopSignal,
  type StopSignalHandlers,
} from "../engine/interruption.ts";

export const VERSION = "2.13.8+deno.0.1.0";

type Command = (ctx: CommandContext) => number | Promise<number>;

/**
 * Each command's module, loaded only when that command runs: start-up then pays for what the command uses
 * (`ls` never loads the hashing, encryption or Ceph code).
 */
const COMMANDS: Record<string, () => Promise<Command>> = {
  initdb: async () => (await import("./cmd_initdb.ts")).initdb,
  backup: async () => (await import("./cmd_backup.ts")).backupCommand,
  restore: async () => (await import("./cmd_restore.ts")).restoreCommand,
  protect: async () => (await import("./cmd_protect.ts")).protect,
  unprotect: async () => (await import("./cmd_unprotect.ts")).unprotect,
  rm: async () => (await import("./cmd_rm.ts")).rm,
  scrub: async () => (await import("./cmd_scrub.ts")).scrub,
  export: async () => (await import("./cmd_export.ts")).exportCommand,
  import: async () => (await import("./cmd_import.ts")).importCommand,
  cleanup: async () => (await import("./cmd_cleanup.ts")).cleanup,
  ls: async () => (await import("./cmd_ls.ts")).ls,
  stats: async () => (await import("./cmd_stats.ts")).stats,
  "diff-meta": async () => (await import("./cmd_diff_meta.ts")).diffMeta,
  du: async () => (await import("./cmd_du.ts")).du,
  "add-tag": async () => (await import("./cmd_add_tag.ts")).addTag,
  "remove-tag": async () => (await import("./cmd_remove_tag.ts")).removeTag,
  expire: async () => (await import("./cmd_expire.ts")).expire,
  due: async () => (await import("./cmd_due.ts")).due,
  sla: async () => (await import("./cmd_sla.ts")).sla,
  rekey: async () => (await import("./cmd_rekey.ts")).rekey,
  "migrate-encryption": async () => (await import("./cmd_migrate_encryption.ts")).migrateEncryptionCommand,
  "migrate-compression": async () => (await import("./cmd_migrate_compression.ts")).migrateCompressionCommand,
  "migrate-catalog": async () => (await import("./cmd_migrate_catalog.ts")).migrateCatalog,
  fuse: async () => (await import("./cmd_fuse.ts")).fuse,
  nbd: async () => (await import("./cmd_nbd.ts")).nbd,
  enforce: async () => (await import("./cmd_enforce.ts")).enforce,
  locks: async () => (await import("./cmd_locks.ts")).locks,
  "rebuild-catalog": async () => (await import("./cmd_rebuild_catalog.ts")).rebuildCatalogCommand,
  "check-store": async () => (await import("./cmd_check_store.ts")).checkStoreCommand,
};

/** Commands that change nothing: a signal ends them at once. */
const READ_ONLY = new Set(["ls", "stats", "diff-meta", "du", "due", "sla", "export", "locks"]);
/** Commands that create their catalog (or fill a new one) and open it themselves. */
const OPENS_OWN_CATALOG = new Set(["initdb", "migrate-catalog", "locks", "rebuild-catalog"]);
/** Commands that create the catalog: a missing PostgreSQL database is created before their first lease needs it. */
const CREATES_CATALOG = new Set(["initdb", "migrate-catalog", "rebuild-catalog"]);
/** Servers: they run until a stop signal, so ending on one (cleanly) is their success. */
const SERVERS = new Set(["fuse", "nbd"]);

/** Runs backy2 with `argv` (without the program name); returns the exit code. */
export async function run(argv: string[]): Promise<number> {
  const parsed = parseArgs(BACKY2_SPEC, argv);
  if (parsed.kind === "exit") {
    writeAll(Deno.stdout, parsed.stdout);
    writeAll(Deno.stderr, parsed.stderr);
    return parsed.code;
  }
  if (parsed.globals.version === true) {
    writeAll(Deno.stdout, `${VERSION}\n`);
    return Exit.ok;
  }
  if (parsed.command === "completion") return await printCompletion(parsed.args.shell as string);
  const flags = globalFlags(parsed.globals);
  if (flags.json && flags.machineOutput) return conflictingFlags();
  let config: Config;
  const log = new Logger({ verbose: flags.verbose, machineOutput: flags.machineOutput, json: flags.json });
  try {
    config = loadConfig({ configFile: parsed.globals.configfile as string | undefined });
    prepareEmbeddedDefault(config);
    log.openLogfile(config.defaults.logfile);
  } catch (error) {
    writeAll(Deno.stderr, `${describe(error)}\n`);
    const code = error instanceof BackyError ? error.exitCode : Exit.config;
    if (flags.json) writeAll(Deno.stdout, configFailure(parsed.command, code, describe(error)));
    return code;
  }
  log.info(`$ backy2 ${argv.join(" ")}`);
  const ctx = new CommandContext(parsed.args, flags, config, log, argv.slice(argv.indexOf(parsed.command)).join(" "));
  const timer = new CommandTimer(parsed.command);
  const finish = (code: number, error?: string) => {
    const outcome = timer.outcome(code, error);
    printResult(ctx, outcome);
    writeMetrics(ctx, outcome);
    return code;
  };
  const stopListening = listenForStopSignals(ctx.interruption, stopHandlers(parsed.command, log, finish));
  try {
    const { code, error } = await runCommand(parsed.command, ctx);
    await readCatalogFacts(ctx);
    return finish(code, error);
  } finally {
    await ctx.close().catch(() => {});
    log.close();
    stopListening();
  }
}

/** `completion SHELL` needs no config, catalog or lock: it only prints the script. */
async function printCompletion(shell: string): Promise<number> {
  const { completionScript } = await import("./completion.ts");
  writeAll(Deno.stdout, completionScript(shell as "bash" | "zsh" | "fish", BACKY2_SPEC));
  return Exit.ok;
}

function stopHandlers(
  command: string,
  log: Logger,
  finish: (code: number, error: string) => number,
): StopSignalHandlers {
  const exitNow = (signal: StopSignal, message: string) => {
    log.error(message);
    Deno.exit(finish(signalExitCode(signal), message));
  };
  return {
    first: READ_ONLY.has(command) ? (signal) => exitNow(signal, `Interrupted by ${signal}.`) : undefined,
    again: (signal) => exitNow(signal, `Interrupted again by ${signal}: exiting at once.`),
  };
}

async function runCommand(name: string, ctx: CommandContext): Promise<Pick<Outcome, "code" | "error">> {
  const { log } = ctx;
  try {
    if (CREATES_CATALOG.has(name)) await ctx.ensureCatalogDatabase();
    // `locks` only looks, and holding `backy` itself would hide the other holders of `backy` from it.
    await using _lease = name === "locks" ? null : await ctx.locks.acquire(
      "backy",
      "shared",
      (holder) =>
        new BackyError(heldBy("A backy is running which requires exclusive access.", holder), { quoted: true }),
    );
    const command: Command = COMMANDS[name] ? await COMMANDS[name]() : () => notImplemented(name);
    // Opened before the command runs, so that a catalog that cannot be used changes nothing.
    if (!OPENS_OWN_CATALOG.has(name)) await ctx.openCatalog();
    log.debug(`backup.${name.replaceAll("-", "_")}(**${JSON.stringify(ctx.args)})`);
    let code: number;
    try {
      code = await command(ctx);
    } catch (error) {
      // A failed command may still have changed versions (a restore that invalidated blobs): their objects
      // are written all the same, and the command's own error is the one reported.
      await ctx.writeStaleMeta().catch((failure) => log.error(describe(failure)));
      throw error;
    }
    await ctx.writeStaleMeta();
    const signal = ctx.interruption.signal;
    if (signal !== null && code === Exit.ok && !SERVERS.has(name)) {
      const message = `Interrupted by ${signal} after the command had done its work.`;
      log.error(message);
      return { code: signalExitCode(signal), error: message };
    }
    if (code === Exit.ok) log.info("Backy complete.\n");
    return { code };
  } catch (error) {
    return { code: reportFailure(error, ctx), error: oneLine(describe(error)) };
  }
}

function reportFailure(error: unknown, ctx: CommandContext): number {
  const { log } = ctx;
  if (error instanceof BackyError) {
    if (ctx.flags.debug && !error.bare) log.error("Unexpected exception");
    for (const line of error.render().split("\n")) log.error(line);
    if (error.plainLine) writeAll(Deno.stderr, `${error.plainLine}\n`);
    if (!error.bare) log.error("Backy failed.\n");
    return error.exitCode;
  }
  log.error(describe(error));
  if (ctx.flags.debug) log.error(`Unexpected exception\n${(error as Error).stack ?? ""}`);
  log.error("Backy failed.\n");
  return Exit.failed;
}

function globalFlags(globals: Args): GlobalFlags {
  return {
    verbose: globals.verbose === true,
    debug: globals.debug === true,
    machineOutput: globals.machineOutput === true,
    skipHeader: globals.skipHeader === true,
    humanReadable: globals.humanReadable === true,
    json: globals.json === true,
    configFile: typeof globals.configfile === "string" && globals.configfile !== "" ? globals.configfile : undefined,
  };
}

/** `--json` and `-m` both claim stdout: a usage error, as argparse reports mutually exclusive options. */
function conflictingFlags(): number {
  const message = "backy2: error: argument --json: not allowed with argument -m/--machine-output\n";
  writeAll(Deno.stderr, formatUsage(BACKY2_SPEC) + message);
  return Exit.argparse;
}

/** Creates the per-user data directory of the embedded default, telling the user once where it is. */
function prepareEmbeddedDefault(config: Config): void {
  if (!config.embeddedDefault) return;
  const dir = config.defaults.lockDir;
  try {
    Deno.statSync(dir);
    return;
  } catch {
    Deno.mkdirSync(dir, { recursive: true });
  }
  writeAll(
    Deno.stderr,
    `backy2: no configuration file found; using the built-in defaults. Catalog, blocks and log are kept in ` +
      `${dir} (this notice is shown once).\n`,
  );
}

function describe(error: unknown): string {
  if (error instanceof BackyError) return error.render();
  return error instanceof Error ? error.message : String(error);
}
