/**
 * Errors a user can cause, and how they leave the process.
 *
 * A {@link BackyError} carries the exit code the reference documents for it and whether the reference
 * prints it in single quotes (its `KeyError`-style "not found" and lock errors). Anything
 * that is not a BackyError is a bug in this tool and is reported with a stack trace only under `-d`.
 */

/** Exit codes of the reference (the README's "Exit codes" lists them). */
export const Exit = {
  ok: 0,
  usage: 1,
  config: 1,
  argparse: 2,
  sanityCheck: 5,
  dataBackend: 6,
  scrubFailed: 20,
  importExists: 22,
  importFormat: 23,
  failed: 100,
  /** Commands that later work will build; the reference has no such code, 100 is its generic failure. */
  notImplemented: 100,
} as const;

export interface BackyErrorOptions {
  /** Process exit code; defaults to 100 (the reference's generic command failure). */
  exitCode?: number;
  /** Render as `'message'` like Python's `str(KeyError(...))`. */
  quoted?: boolean;
  /**
   * Skip the `Backy failed.` trailer: the reference exits directly for these (bad dates, restore target
   * errors, database errors) and prints the message as ERROR lines only.
   */
  bare?: boolean;
  /** An extra plain line printed to stderr after the ERROR line (as backy2 does for restore target errors). */
  plainLine?: string;
}

export class BackyError extends Error {
  readonly exitCode: number;
  readonly quoted: boolean;
  readonly bare: boolean;
  readonly plainLine?: string;

  constructor(message: string, options: BackyErrorOptions = {}) {
    super(message);
    this.name = "BackyError";
    this.exitCode = options.exitCode ?? Exit.failed;
    this.quoted = options.quoted ?? false;
    this.bare = options.bare ?? false;
    this.plainLine = options.plainLine;
  }

  /** The text the reference prints for this error. */
  render(): string {
    return this.quoted ? `'${this.message}'` : this.message;
  }
}

/** `'Version {uid} not found.'` (exit 100). */
export function versionNotFound(uid: string): BackyError {
  return new BackyError(`Version ${uid} not found.`, { quoted: true });
}

/**
 * `'Version {uid} is locked.'` (exit 100); with the holder when the locks know it (another host's lease):
 * `'Version {uid} is locked by backup (pid 42) on host b2 since 2026-12-01 05:21:24 UTC.'`.
 */
export function versionLocked(uid: string, holder: string | null = null): BackyError {
  return new BackyError(`Version ${uid} is locked${holder ? ` by ${holder}` : ""}.`, { quoted: true });
}

/** A lock refusal's message with its holder, when known: `'{message} ({holder})'` before the final period. */
export function heldBy(message: string, holder: string | null): string {
  return holder ? `${message.replace(/\.$/, "")} (held by ${holder}).` : message;
}
