/**
 * backy2's logging (behavior §2.3): console lines `{LEVEL:>8}: [backy2.logging] {message}`, INFO and WARNING
 * to stdout (DEBUG too with `-v`, nothing with `-m`), ERROR always to stderr, and an appended logfile with
 * INFO and up as `{local time with ms} [{pid}] {message}`.
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
}

export class Logger {
  private consoleLevel: Level;
  private logfile: Deno.FsFile | null = null;

  constructor(options: LoggerOptions) {
    this.consoleLevel = options.verbose ? Level.DEBUG : options.machineOutput ? Level.ERROR : Level.INFO;
  }

  /** Starts appending INFO and up to `path`; the reference requires its directory to exist. */
  openLogfile(path: string): void {
    this.logfile = Deno.openSync(path, { append: true, create: true });
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
    else if (level >= this.consoleLevel && level <= Level.WARNING) writeAll(Deno.stdout, line);
    if (this.logfile && level >= Level.INFO) {
      writeAll(this.logfile, `${localTimestamp(new Date())} [${Deno.pid}] ${message}\n`);
    }
  }

  close(): void {
    this.logfile?.close();
    this.logfile = null;
  }
}

/**
 * Writes all of `text`, looping over short writes. A reader that went away (`backy2 -m backup … | head -1`)
 * is not an error of the backup: the rest of the output is dropped.
 */
export function writeAll(sink: { writeSync(p: Uint8Array): number }, text: string | Uint8Array): void {
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
