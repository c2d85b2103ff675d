/**
 * Progress status in the reference's format (behavior §20):
 * `{msg} Read Queue [==   ] Write Queue [     ] ({pct:.1f}% {MB/s:.1f}MB/sØ ETA {eta}) {extra}`, logged at
 * INFO once a second when at least 0.5 % of the work has passed, and once per phase.
 */
import type { Logger } from "../log/logger.ts";
import { roundHalfEven } from "../output/humanize.ts";

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

  constructor(private readonly log: Logger, private readonly message: string) {}

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

  /** Logs the status when a second has passed and enough work was done since the last line. */
  update(state: ProgressState): void {
    const time = performance.now();
    const step = Math.floor(state.total / 200) + 1;
    if (this.loggedOnce && (time - this.lastLogged < 1000 || state.done - this.lastLoggedDone < step)) return;
    this.loggedOnce = true;
    this.lastLogged = time;
    this.lastLoggedDone = state.done;
    this.log.info(this.status(state));
  }
}
