/**
 * How a command ended (exit code, the one-line error, when it ran) and the `--json` result object built from
 * it: every command that printed no listing ends with one such object on stdout, failures included.
 */
import type { CommandContext } from "./context.ts";
import { isoFromDate, jsonLine, type JsonValue } from "../output/json.ts";
import { writeAll } from "../log/logger.ts";
import { now } from "../util/clock.ts";

export interface Outcome {
  command: string;
  code: number;
  /** The failure as one line, when the command failed with a message. */
  error?: string;
  startedAt: Date;
  finishedAt: Date;
  durationSeconds: number;
}

/** Measures one command from its start. */
export class CommandTimer {
  private readonly startedAt = now();
  private readonly started = performance.now();

  constructor(private readonly command: string) {}

  outcome(code: number, error?: string): Outcome {
    const durationSeconds = Math.round(performance.now() - this.started) / 1000;
    return { command: this.command, code, error, startedAt: this.startedAt, finishedAt: now(), durationSeconds };
  }
}

/** Turns a possibly multi-line message into the one line a result object carries. */
export function oneLine(message: string): string {
  return message.split("\n").map((line) => line.trim()).filter((line) => line !== "").join(" ");
}

/**
 * `{"command", "exit_code", "success", ...the command's fields, "counters", "invalid_blocks", "started",
 * "finished", "duration_seconds", "error"}`; `counters` and `invalid_blocks` only for commands that count
 * (backup, restore, scrub, cleanup), `error` only on failure.
 */
export function resultObject(ctx: CommandContext, outcome: Outcome): Record<string, JsonValue> {
  const counters = ctx.report.counters;
  const counting = Object.keys(counters).length > 0;
  const error = outcome.error ?? ctx.report.failure;
  const result: Record<string, JsonValue> = {
    command: outcome.command,
    exit_code: outcome.code,
    success: outcome.code === 0,
    ...ctx.result,
  };
  if (counting) {
    result.counters = counters;
    result.invalid_blocks = ctx.report.invalidBlocks.map((b) => ({
      block: b.block,
      blob_uid: b.blobUid,
      reason: b.reason,
    }));
  }
  result.started = isoFromDate(outcome.startedAt);
  result.finished = isoFromDate(outcome.finishedAt);
  result.duration_seconds = outcome.durationSeconds;
  if (outcome.code !== 0) result.error = error ?? `exit code ${outcome.code}`;
  return result;
}

/** Under `--json`, writes the result object unless the command printed its listing. */
export function printResult(ctx: CommandContext, outcome: Outcome): void {
  if (!ctx.flags.json || ctx.printed) return;
  ctx.printed = true;
  writeAll(Deno.stdout, jsonLine(resultObject(ctx, outcome)));
}

/** The result object of a command that never started because the configuration could not be loaded. */
export function configFailure(command: string, code: number, message: string): string {
  const at = isoFromDate(now());
  return jsonLine({
    command,
    exit_code: code,
    success: false,
    started: at,
    finished: at,
    duration_seconds: 0,
    error: oneLine(message),
  });
}
