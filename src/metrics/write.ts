/**
 * Writes `backy2.prom` into `[DEFAULTS] metrics_dir` after every command, failed ones included: under an
 * exclusive lock on a lock file beside it (so that two commands ending together do not lose each other's
 * series), it reads the previous file, applies this run, writes a temporary file whose name does not end in
 * `.prom` (node_exporter never reads it half-written), syncs it and renames it over `backy2.prom`.
 *
 * Metrics never change a command's outcome: a directory that is missing or not writable costs one warning line
 * on stderr.
 */
import type { CommandContext } from "../cli/context.ts";
import type { Outcome } from "../cli/outcome.ts";
import { writeAll } from "../log/logger.ts";
import { join } from "../util/paths.ts";
import { applyRun, carryOver, emptyFamilies, type RunFacts } from "./metrics.ts";
import { formatFamilies, parseSamples } from "./prom_text.ts";

export const METRICS_FILE = "backy2.prom";
const LOCK_FILE = ".backy2.prom.lock";

export function writeMetrics(ctx: CommandContext, outcome: Outcome): void {
  const dir = ctx.config.defaults.metricsDir;
  if (dir === "") return;
  const facts = runFacts(ctx, outcome);
  try {
    withLock(dir, () => {
      const families = emptyFamilies();
      carryOver(families, parseSamples(readPrevious(join(dir, METRICS_FILE))));
      applyRun(families, facts);
      replaceFile(dir, formatFamilies(families));
    });
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    writeAll(Deno.stderr, `backy2: cannot write metrics to ${join(dir, METRICS_FILE)}: ${reason}; going on.\n`);
  }
}

function runFacts(ctx: CommandContext, outcome: Outcome): RunFacts {
  const facts: RunFacts = {
    command: outcome.command,
    exitCode: outcome.code,
    finishedAt: outcome.finishedAt,
    durationSeconds: outcome.durationSeconds,
  };
  const name = typeof ctx.result.name === "string" ? ctx.result.name : undefined;
  const { report } = ctx;
  if (outcome.command === "backup" && outcome.code === 0 && name !== undefined) {
    const bytesWritten = report.get("bytes_written");
    facts.backup = {
      versionName: name,
      bytesRead: report.get("bytes_read"),
      bytesWritten,
      bytesStored: report.has("bytes_stored") ? report.get("bytes_stored") : bytesWritten,
    };
  }
  if (outcome.command === "scrub" && name !== undefined) {
    facts.scrub = { versionName: name, invalidBlocks: report.get("invalid_blobs") };
  }
  facts.catalog = ctx.catalogFacts;
  return facts;
}

/**
 * Reads the catalog-wide gauges into `ctx.catalogFacts` when the command opened the catalog; otherwise (or
 * when it cannot be read) the previous values stay.
 */
export async function readCatalogFacts(ctx: CommandContext): Promise<void> {
  const catalog = ctx.openedCatalog;
  if (!catalog || ctx.config.defaults.metricsDir === "") return;
  try {
    ctx.catalogFacts = { versions: await catalog.listVersions(), storeBytes: await catalog.storeBytes() };
  } catch {
    ctx.catalogFacts = undefined;
  }
}

function readPrevious(path: string): string {
  try {
    return Deno.readTextFileSync(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return "";
    throw error;
  }
}

function withLock(dir: string, work: () => void): void {
  const file = Deno.openSync(join(dir, LOCK_FILE), { read: true, write: true, create: true });
  try {
    file.lockSync(true);
    work();
  } finally {
    file.close();
  }
}

function replaceFile(dir: string, text: string): void {
  const temporary = join(dir, `.${METRICS_FILE}.${Deno.pid}.tmp`);
  const file = Deno.openSync(temporary, { write: true, create: true, truncate: true, mode: 0o644 });
  try {
    writeAll(file, text);
    file.syncSync();
  } finally {
    file.close();
  }
  try {
    Deno.renameSync(temporary, join(dir, METRICS_FILE));
  } catch (error) {
    Deno.removeSync(temporary);
    throw error;
  }
}
