/**
 * Stopping on SIGINT, SIGTERM and SIGHUP. The first signal only raises a flag ({@link Interruption}) that the
 * backup, restore and scrub pipelines check between blocks: they stop issuing new work, let what is in
 * flight end, leave the catalog consistent and report with an {@link InterruptedError}, which names the
 * command that continues the job. A second signal ends the process at once, which is no worse than kill -9.
 *
 * Exit codes follow the shell's convention for a death by signal (128 + its number).
 */
import { BackyError } from "../util/errors.ts";

export type StopSignal = "SIGINT" | "SIGTERM" | "SIGHUP";

export const STOP_SIGNALS: readonly StopSignal[] = ["SIGINT", "SIGTERM", "SIGHUP"];

const EXIT_CODES: Record<StopSignal, number> = { SIGHUP: 129, SIGINT: 130, SIGTERM: 143 };

export function signalExitCode(signal: StopSignal): number {
  return EXIT_CODES[signal];
}

/** A job that stopped because of a signal: one ERROR line, no "Backy failed.", the signal's exit code. */
export class InterruptedError extends BackyError {
  constructor(readonly signal: StopSignal, message: string) {
    super(`Interrupted by ${signal}: ${message}`, { exitCode: signalExitCode(signal), bare: true });
    this.name = "InterruptedError";
  }
}

/** What the user runs to go on after an interruption: advice ("continue it with") and the arguments. */
export interface NextStep {
  advice: string;
  args: string[];
}

export class Interruption {
  private received: StopSignal | null = null;

  /** @param program the words that start this program as the user started it (`backy2 -c CONFIG`). */
  constructor(private readonly program: readonly string[] = ["backy2"]) {}

  /** The first stop signal received, or null. */
  get signal(): StopSignal | null {
    return this.received;
  }

  get requested(): boolean {
    return this.received !== null;
  }

  /** Records a stop signal; true for the first one. */
  request(signal: StopSignal): boolean {
    if (this.received !== null) return false;
    this.received = signal;
    return true;
  }

  /** `items` until a stop is requested: a windowed loop over it issues no new work after a signal. */
  *until<T>(items: Iterable<T>): Iterable<T> {
    for (const item of items) {
      if (this.requested) return;
      yield item;
    }
  }

  /** The error that reports an interrupted job: what state it left, and how to go on from there. */
  stopped(state: string, next?: NextStep): InterruptedError {
    if (this.received === null) throw new Error("stopped() without an interruption");
    const how = next ? `; ${next.advice}: ${shellCommand([...this.program, ...next.args])}` : "";
    return new InterruptedError(this.received, `${state}${how}`);
  }
}

/** `words` as one command line a POSIX shell splits back into exactly these words. */
export function shellCommand(words: readonly string[]): string {
  return words.map((word) => /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`).join(" ");
}

export interface StopSignalHandlers {
  /** Called on the first stop signal, after the interruption has recorded it. */
  first?: (signal: StopSignal) => void;
  /** Called on any later one; it must end the process. */
  again: (signal: StopSignal) => void;
}

/** Routes SIGINT, SIGTERM and SIGHUP to `interruption`; returns the function that removes the listeners. */
export function listenForStopSignals(interruption: Interruption, handlers: StopSignalHandlers): () => void {
  const listeners = STOP_SIGNALS.map((signal) => {
    const listener = () => {
      if (interruption.request(signal)) handlers.first?.(signal);
      else handlers.again(signal);
    };
    Deno.addSignalListener(signal, listener);
    return () => Deno.removeSignalListener(signal, listener);
  });
  return () => listeners.forEach((remove) => remove());
}
