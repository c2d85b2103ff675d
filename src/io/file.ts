/**
 * `file://PATH`: regular files and block devices (behavior §18.1). Relative paths are relative to the working
 * directory (`file://disk.img`), absolute ones have three slashes (`file:///dev/sda`).
 *
 * Restore targets follow §7: an existing target needs `-f` and must not be smaller than the version; a new
 * file is created sparse with the exact size, and zero blocks are not written into it again.
 */
import { BackyError } from "../util/errors.ts";
import type { Source, Target } from "./io.ts";

/** The path of a `file://` URL. */
export function filePath(url: string): string {
  const match = /^file:\/\/(.+)$/s.exec(url);
  if (!match) {
    throw new BackyError(`Not a valid io name: ${url} . Need a file path, e.g. file:///somepath/file`);
  }
  return match[1];
}

/** Serialises positioned IO on one handle (Deno files have one cursor). */
class PositionedFile {
  private queue: Promise<unknown> = Promise.resolve();

  constructor(readonly file: Deno.FsFile) {}

  run<T>(work: () => Promise<T>): Promise<T> {
    const result = this.queue.then(work);
    this.queue = result.catch(() => {});
    return result;
  }

  async readAt(offset: number, into: Uint8Array): Promise<number> {
    return await this.run(async () => {
      await this.file.seek(offset, Deno.SeekMode.Start);
      let done = 0;
      while (done < into.length) {
        const n = await this.file.read(into.subarray(done));
        if (n === null) break;
        done += n;
      }
      return done;
    });
  }

  async writeAt(offset: number, data: Uint8Array): Promise<void> {
    await this.run(async () => {
      await this.file.seek(offset, Deno.SeekMode.Start);
      let done = 0;
      while (done < data.length) done += await this.file.write(data.subarray(done));
    });
  }
}

export class FileSource implements Source {
  private constructor(readonly url: string, readonly size: number, private readonly io: PositionedFile) {}

  static async open(url: string): Promise<FileSource> {
    const path = filePath(url);
    let file: Deno.FsFile;
    try {
      file = await Deno.open(path, { read: true });
    } catch (error) {
      throw new BackyError(pythonOsError(error, path));
    }
    // Deno opens directories for reading (Python does not); their "size" would be 2^63.
    if ((await file.stat()).isDirectory) {
      file.close();
      throw new BackyError(`[Errno 21] Is a directory: '${path}'`);
    }
    const size = await file.seek(0, Deno.SeekMode.End);
    return new FileSource(url, size, new PositionedFile(file));
  }

  read(offset: number, into: Uint8Array): Promise<number> {
    return this.io.readAt(offset, into);
  }

  close(): Promise<void> {
    this.io.file.close();
    return Promise.resolve();
  }
}

export class FileTarget implements Target {
  private constructor(
    readonly url: string,
    private readonly io: PositionedFile,
    /** A file we just created reads as zeros already: zero blocks need no write. */
    private readonly fresh: boolean,
  ) {}

  static async open(url: string, sizeBytes: number, force: boolean): Promise<FileTarget> {
    const path = filePath(url);
    const existing = await statOrNull(path);
    if (existing) {
      if (!force) {
        throw new BackyError(`Target already exists: ${url}`, {
          exitCode: 1,
          bare: true,
          plainLine: "Error opening restore target. You must force the restore.",
        });
      }
      let file: Deno.FsFile;
      try {
        file = await Deno.open(path, { read: true, write: true });
      } catch (error) {
        throw new BackyError(pythonOsError(error, path));
      }
      const size = await file.seek(0, Deno.SeekMode.End);
      if (size < sizeBytes) {
        file.close();
        throw new BackyError(`Target size is too small. Has ${size}b, need ${sizeBytes}b.`, {
          exitCode: 1,
          bare: true,
          plainLine: "Error opening restore target.",
        });
      }
      return new FileTarget(url, new PositionedFile(file), false);
    }
    let file: Deno.FsFile;
    try {
      file = await Deno.open(path, { read: true, write: true, createNew: true });
    } catch (error) {
      // The reference's open() raises here (e.g. a missing folder): a plain failure, exit 100.
      throw new BackyError(pythonOsError(error, path));
    }
    await file.truncate(sizeBytes);
    return new FileTarget(url, new PositionedFile(file), true);
  }

  write(offset: number, data: Uint8Array): Promise<void> {
    return this.io.writeAt(offset, data);
  }

  async writeZeroes(offset: number, length: number): Promise<void> {
    if (this.fresh) return;
    await this.io.writeAt(offset, new Uint8Array(length));
  }

  async flush(): Promise<void> {
    await this.io.run(() => this.io.file.sync());
  }

  close(): Promise<void> {
    this.io.file.close();
    return Promise.resolve();
  }
}

async function statOrNull(path: string): Promise<Deno.FileInfo | null> {
  try {
    return await Deno.stat(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return null;
    throw error;
  }
}

/** The text Python prints for an OSError, which users of the reference see for missing or unreadable paths. */
function pythonOsError(error: unknown, path: string): string {
  if (error instanceof Deno.errors.NotFound) return `[Errno 2] No such file or directory: '${path}'`;
  if (error instanceof Deno.errors.PermissionDenied) return `[Errno 13] Permission denied: '${path}'`;
  if (error instanceof Deno.errors.IsADirectory) return `[Errno 21] Is a directory: '${path}'`;
  return `${(error as Error).message}: '${path}'`;
}
