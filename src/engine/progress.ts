/**
 * Progress in the reference's format:
 * `{msg} Read Queue [==   ] Write Queue [     ] ({pct:.1f}% {MB/s:.1f}MB/sØ ETA {eta}) {extra}`, logged at
 * INFO once a second when at least 0.5 % of the work has passed (and once per phase), shown in the process
 * title as `{process_name} [{status}]`, and drawn as a bar with throughput and ETA on stderr when stderr is a
 * terminal.
 */
import type { Logger } from "../log/logger.ts";
import { writeAll } from "../log/logger.ts";
import { roundHalfEven } from "../output/humanize.ts";
import { setProcessTitle } from "../platform/proctitle.ts";

export interface ProgressOwner {
  log: Logger;
  settings: { processName: string };
}

const BAR_WIDTH = 30;
const BAR_INTERVAL_MS = 100;

export function queueBar(percent: number): string {
  return `[${"=".repeat(roundHalfEven(percent / 10)).padEnd(10)}]`;
}

export function formatEta(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 120) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${s % 60}s`;
  return `${Math.floor(s / 3600)}h${Math.floor((s % 3600) / 60)}m`;
}

export interface ProgressState {
  done: number;
  total: number;
  bytes: number;
  readQueue?: number;
  writeQueue?: number;
  extra?: string;
}

export class Progress {
  private readonly started = performance.now();
  private lastLogged = -Infinity;
  private lastLoggedDone = -1;
  private loggedOnce = false;
  private lastBar = -Infinity;
  private lastTitle = -Infinity;
  private readonly terminal = Deno.stderr.isTerminal();

  constructor(private readonly owner: ProgressOwner, private readonly message: string) {}

  status(state: ProgressState): string {
    const elapsed = (performance.now() - this.started) / 1000;
    const fraction = state.total > 0 ? state.done / state.total : 1;
    const rate = elapsed > 0 ? state.bytes / elapsed / 1048576 : 0;
    const eta = fraction > 0 ? elapsed / fraction - elapsed : 0;
    return `${this.message} Read Queue ${queueBar(state.readQueue ?? 0)} Write Queue ${
      queueBar(state.writeQueue ?? 0)
    }` +
      ` (${(fraction * 100).toFixed(1)}% ${rate.toFixed(1)}MB/sØ ETA ${formatEta(eta)}) ${state.extra ?? ""}`;
  }

  /** Reports the state: a log line when due, the process title once a second, the terminal bar. */
  update(state: ProgressState): void {
    const time = performance.now();
    if (time - this.lastTitle >= 1000) {
      this.lastTitle = time;
      setProcessTitle(`${this.owner.settings.processName} [${this.status(state)}]`);
    }
    if (this.terminal && time - this.lastBar >= BAR_INTERVAL_MS) {
      this.lastBar = time;
      writeAll(Deno.stderr, `\r${this.bar(state)}`);
    }
    const step = Math.floor(state.total / 200) + 1;
    if (this.loggedOnce && (time - this.lastLogged < 1000 || state.done - this.lastLoggedDone < step)) return;
    this.loggedOnce = true;
    this.lastLogged = time;
    this.lastLoggedDone = state.done;
    this.owner.log.info(this.status(state));
  }

  /** Ends the phase: clears the terminal bar and puts the bare process name back into the title. */
  finish(): void {
    if (this.terminal && this.lastBar > -Infinity) writeAll(Deno.stderr, `\r${" ".repeat(BAR_WIDTH + 40)}\r`);
    setProcessTitle(this.owner.settings.processName);
  }

  private bar(state: ProgressState): string {
    const elapsed = (performance.now() - this.started) / 1000;
    const fraction = state.total > 0 ? Math.min(1, state.done / state.total) : 1;
    const filled = Math.round(fraction * BAR_WIDTH);
    const rate = elapsed > 0 ? state.bytes / elapsed / 1048576 : 0;
    const eta = fraction > 0 ? elapsed / fraction - elapsed : 0;
    return `[${"#".repeat(filled)}${".".repeat(BAR_WIDTH - filled)}] ${(fraction * 100).toFixed(1).padStart(5)}% ` +
      `${rate.toFixed(1)} MiB/s ETA ${formatEta(eta)}   `;
  }
}
