/**
 * backy2's logging: console lines `{LEVEL:>8}: [backy2.logging] {message}`, INFO and WARNING to stdout
 * (DEBUG too with `-v`), ERROR always to stderr, and an appended logfile with INFO and up as `{local time
 * with ms} [{pid}] {message}`.
 *
 * Under `-m` stdout carries only the machine output that scripts parse: no log line goes there, and the
 * lines `-v` asks for go to stderr instead. Under `--json` stdout carries only JSON: every console line (INFO
 * and WARNING too) goes to stderr. A logfile that cannot be opened or written (full disk, missing
 * or read-only directory, a directory in its place) never stops a command: one warning on stderr, then the
 * command goes on without the logfile.
 */

export enum Level {
  DEBUG = 10,
  INFO = 20,
  WARNING = 30,
  ERROR = 40,
}

const LOGGER_NAME = "backy2.logging";
const encoder = new TextEncoder();

export interface LoggerOptions {
  verbose: boolean;
  machineOutput: boolean;
  /** `--json`: the console lines go to stderr (at the usual levels). */
  json?: boolean;
}

type Sink = { writeSync(p: Uint8Array): number };

export class Logger {
  private readonly consoleLevel: Level;
  /** Where DEBUG to WARNING lines go. */
  private readonly console: Sink;
  private logfile: Deno.FsFile | null = null;
  private logfilePath = "";

  constructor(options: LoggerOptions) {
    this.consoleLevel = options.verbose ? Level.DEBUG : options.machineOutput ? Level.ERROR : Level.INFO;
    this.console = options.machineOutput || options.json ? Deno.stderr : Deno.stdout;
  }

  /** Starts appending INFO and up to `path`. */
  openLogfile(path: string): void {
    this.logfilePath = path;
    try {
      this.logfile = Deno.openSync(path, { append: true, create: true });
    } catch (error) {
      this.dropLogfile(error);
    }
  }

  debug(message: string): void {
    this.log(Level.DEBUG, message);
  }
  info(message: string): void {
    this.log(Level.INFO, message);
  }
  warning(message: string): void {
    this.log(Level.WARNING, message);
  }
  error(message: string): void {
    this.log(Level.ERROR, message);
  }

  log(level: Level, message: string): void {
    const line = `${Level[level].padStart(8)}: [${LOGGER_NAME}] ${message}\n`;
    if (level >= Level.ERROR) writeAll(Deno.stderr, line);
    else if (level >= this.consoleLevel && level <= Level.WARNING) writeAll(this.console, line);
    if (this.logfile && level >= Level.INFO) {
      try {
        writeAll(this.logfile, `${localTimestamp(new Date())} [${Deno.pid}] ${message}\n`);
      } catch (error) {
        this.dropLogfile(error);
      }
    }
  }

  close(): void {
    try {
      this.logfile?.close();
    } catch {
      // Nothing is left to write; a failing close must not change the command's outcome.
    }
    this.logfile = null;
  }

  /** Warns once on stderr and goes on without the logfile. */
  private dropLogfile(error: unknown): void {
    this.close();
    writeAll(
      Deno.stderr,
      `backy2: cannot write the logfile ${this.logfilePath}: ${osReason(error)}; going on without it.\n`,
    );
  }
}

/** The operating system's reason of a failed file operation, without Deno's repetition of the path. */
function osReason(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.replace(/(\(os error \d+\)):.*$/s, "$1");
}

/**
 * Writes all of `text`, looping over short writes. A reader that went away (`backy2 -m backup … | head -1`)
 * is not an error of the backup: the rest of the output is dropped.
 */
export function writeAll(sink: Sink, text: string | Uint8Array): void {
  let bytes = typeof text === "string" ? encoder.encode(text) : text;
  try {
    while (bytes.length > 0) bytes = bytes.subarray(sink.writeSync(bytes));
  } catch (error) {
    if (!(error instanceof Deno.errors.BrokenPipe)) throw error;
  }
}

/** `YYYY-MM-DD HH:MM:SS,mmm` in local time, like Python logging's default asctime. */
function localTimestamp(d: Date): string {
  const p = (n: number, w = 2) => String(n).padStart(w, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:` +
    `${p(d.getSeconds())},${p(d.getMilliseconds(), 3)}`;
}
