/**
 * Positioned file IO through libc: `pread` and `pwrite` run on Deno's blocking threads, straight into and out
 * of the caller's buffer, several at once on one descriptor. Deno's own file API copies every buffer once
 * more and serialises IO behind one cursor; for 4 MiB blocks that extra copy cost as much CPU as the kernel's
 * own, on a machine where every cycle not spent hashing is throughput lost.
 *
 * errno does not cross threads, so a failed call is repeated through Deno's file API, which throws the
 * system's own error (or succeeds, if the failure was transient).
 *
 * Direct IO (`O_DIRECT`) moves a block between the caller's buffer and the device without the page cache: no
 * copy, no dirty pages for the kernel's writeback threads to push later. It needs the buffer's address, the
 * file offset and the length aligned ({@link DIRECT_ALIGNMENT}); the pipelines' buffers are page-aligned
 * (buffers.ts), and a write that is not aligned takes the ordinary path.
 */

const O_RDONLY = 0;
const O_WRONLY = 1;
const O_RDWR = 2;
const O_CREAT = 0o100;
const O_EXCL = 0o200;
const O_TRUNC = 0o1000;
const O_NONBLOCK = 0o4000;
const O_CLOEXEC = 0o2000000;
/** O_DIRECT and O_DIRECTORY swap their values between x86-64 (and most others) and arm64. */
const O_DIRECT = Deno.build.arch === "aarch64" ? 0o200000 : 0o40000;
const O_DIRECTORY = Deno.build.arch === "aarch64" ? 0o40000 : 0o200000;
const SEEK_END = 2;
const AT_EMPTY_PATH = 0x1000;
const STATX_TYPE = 0x1;
const STATX_SIZE = 0x200;
const S_IFMT = 0o170000;

const symbols = {
  open: { parameters: ["buffer", "i32", "u32"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
  lseek: { parameters: ["i32", "i64", "i32"], result: "i64" },
  pread: { parameters: ["i32", "buffer", "usize", "i64"], result: "isize", nonblocking: true },
  pwrite: { parameters: ["i32", "buffer", "usize", "i64"], result: "isize", nonblocking: true },
  statx: { parameters: ["i32", "buffer", "i32", "u32", "buffer"], result: "i32" },
  fdatasync: { parameters: ["i32"], result: "i32", nonblocking: true },
  fsync: { parameters: ["i32"], result: "i32", nonblocking: true },
} as const;

type Libc = Deno.DynamicLibrary<typeof symbols>["symbols"];
let library: Deno.DynamicLibrary<typeof symbols> | null = null;

function libc(): Libc {
  library ??= Deno.dlopen("libc.so.6", symbols);
  return library.symbols;
}

/**
 * How a {@link RawFile} is opened, in the terms of Deno.OpenOptions that produce the same error.
 * `readNonBlocking` reads too, but a FIFO opens at once instead of waiting for a writer (for files that
 * should be regular and are checked with {@link RawFile.status} after opening).
 */
export type OpenMode = "read" | "readNonBlocking" | "readWrite" | "createNew" | "replace";

const FLAGS: Record<OpenMode, number> = {
  read: O_RDONLY,
  readNonBlocking: O_RDONLY | O_NONBLOCK,
  readWrite: O_RDWR,
  createNew: O_RDWR | O_CREAT | O_EXCL,
  replace: O_WRONLY | O_CREAT | O_TRUNC,
};

const DENO_OPTIONS: Record<OpenMode, Deno.OpenOptions> = {
  read: { read: true },
  readNonBlocking: { read: true },
  readWrite: { read: true, write: true },
  createNew: { read: true, write: true, createNew: true },
  replace: { write: true, create: true, truncate: true },
};

/**
 * What direct IO is aligned to here: the page size, which covers the logical block size of every disk and
 * filesystem this tool meets (512 or 4096 bytes).
 */
export const DIRECT_ALIGNMENT = 4096;

/** True when `data` may be written with direct IO at `offset`: its address, its length and the offset aligned. */
export function directAligned(data: Uint8Array, offset = 0): boolean {
  if (data.length === 0 || data.length % DIRECT_ALIGNMENT !== 0 || offset % DIRECT_ALIGNMENT !== 0) return false;
  const address = Deno.UnsafePointer.value(Deno.UnsafePointer.of(data as Uint8Array<ArrayBuffer>));
  return BigInt(address) % BigInt(DIRECT_ALIGNMENT) === 0n;
}

/**
 * Makes a file's data, or a directory's entries, durable by path: fdatasync of the file, fsync of the
 * directory (a renamed or created entry is metadata, which fdatasync may leave out).
 */
export async function syncPath(path: string, kind: "file" | "directory"): Promise<void> {
  const flags = O_RDONLY | O_CLOEXEC | (kind === "directory" ? O_DIRECTORY : 0);
  const fd = libc().open(new TextEncoder().encode(`${path}\0`), flags, 0);
  if (fd < 0) {
    Deno.openSync(path, { read: true }).close(); // throws the system's error
    throw new Error(`cannot open ${path}`);
  }
  try {
    const result = kind === "directory" ? await libc().fsync(fd) : await libc().fdatasync(fd);
    if (result !== 0) {
      throw new Error(`Cannot make ${path} durable (${kind === "directory" ? "fsync" : "fdatasync"} failed)`);
    }
  } finally {
    libc().close(fd);
  }
}

/** What a path or descriptor refers to, by the type bits of its mode. */
export type FileKind = "file" | "directory" | "blockDevice" | "charDevice" | "fifo" | "socket" | "symlink" | "other";

const KINDS: Record<number, FileKind> = {
  0o100000: "file",
  0o040000: "directory",
  0o060000: "blockDevice",
  0o020000: "charDevice",
  0o010000: "fifo",
  0o140000: "socket",
  0o120000: "symlink",
};

const KIND_NAMES: Record<FileKind, string> = {
  file: "a regular file",
  directory: "a directory",
  blockDevice: "a block device",
  charDevice: "a character device",
  fifo: "a FIFO",
  socket: "a socket",
  symlink: "a symbolic link",
  other: "of an unknown type",
};

/** "a directory", "a FIFO", ...: for messages. */
export function describeKind(kind: FileKind): string {
  return KIND_NAMES[kind];
}

/** The kind of a path as Deno.stat saw it. */
export function kindOf(info: Deno.FileInfo): FileKind {
  if (info.isFile) return "file";
  if (info.isDirectory) return "directory";
  if (info.isSymlink) return "symlink";
  if (info.isBlockDevice) return "blockDevice";
  if (info.isCharDevice) return "charDevice";
  if (info.isFifo) return "fifo";
  if (info.isSocket) return "socket";
  return "other";
}

/** `statx` fills this; used by one synchronous call at a time. Its layout is the same on every architecture. */
const statxBuffer = new Uint8Array(256);
const STATX_MODE_OFFSET = 28;
const STATX_SIZE_OFFSET = 40;
const EMPTY_PATH = new Uint8Array(1);

/** An open file descriptor with positioned, parallel reads and writes. */
export class RawFile {
  private constructor(readonly path: string, private fd: number) {}

  /** Opens `path`; throws Deno's error for the path (NotFound, PermissionDenied, ...) when it cannot. */
  static open(path: string, mode: OpenMode): RawFile {
    // 0o666 less the umask, as Python's and Deno's own open create files.
    const fd = libc().open(new TextEncoder().encode(`${path}\0`), FLAGS[mode] | O_CLOEXEC, 0o666);
    if (fd < 0) {
      Deno.openSync(path, DENO_OPTIONS[mode]).close(); // throws the system's error
      if (mode === "createNew") Deno.removeSync(path); // that second try created it: leave nothing behind
      throw new Error(`cannot open ${path}`);
    }
    return new RawFile(path, fd);
  }

  /** The file's size (its end offset; works for block devices, not for pipes). */
  size(): number {
    const end = Number(libc().lseek(this.open(), 0n, SEEK_END));
    if (end < 0) throw new Error("Cannot seek to its end (a pipe or a socket?)");
    return end;
  }

  /** What the open descriptor refers to and its size (fstat: about the file opened, whatever the path is now). */
  status(): { kind: FileKind; size: number } {
    if (libc().statx(this.open(), EMPTY_PATH, AT_EMPTY_PATH, STATX_TYPE | STATX_SIZE, statxBuffer) !== 0) {
      throw new Error(`cannot stat ${this.path}`);
    }
    const view = new DataView(statxBuffer.buffer);
    // Little-endian, as on every platform this tool runs on (x86-64, arm64).
    const mode = view.getUint16(STATX_MODE_OFFSET, true);
    return { kind: KINDS[mode & S_IFMT] ?? "other", size: Number(view.getBigUint64(STATX_SIZE_OFFSET, true)) };
  }

  /** Creates or truncates `path` for writing with direct IO; null when that open fails, for whatever reason. */
  static openDirect(path: string): RawFile | null {
    const flags = O_WRONLY | O_CREAT | O_TRUNC | O_DIRECT | O_CLOEXEC;
    const fd = libc().open(new TextEncoder().encode(`${path}\0`), flags, 0o666);
    return fd < 0 ? null : new RawFile(path, fd);
  }

  /**
   * A second descriptor of the same open file (through /proc/self/fd, so never another file that took the
   * path meanwhile) for direct IO; null where the file or the system does not allow it (tmpfs, no /proc).
   */
  reopenDirect(access: "read" | "readWrite" = "readWrite"): RawFile | null {
    const path = `/proc/self/fd/${this.open()}`;
    const flags = (access === "read" ? O_RDONLY : O_RDWR) | O_DIRECT | O_CLOEXEC;
    const fd = libc().open(new TextEncoder().encode(`${path}\0`), flags, 0);
    return fd < 0 ? null : new RawFile(path, fd);
  }

  /** Makes everything written through this descriptor durable (fdatasync). */
  async syncData(): Promise<void> {
    if (await libc().fdatasync(this.open()) !== 0) {
      throw new Error(`Cannot make ${this.path} durable (fdatasync failed)`);
    }
  }

  /** Reads up to `into.length` bytes at `offset`; short only at the end of the file. */
  async readAt(offset: number, into: Uint8Array<ArrayBuffer>): Promise<number> {
    let done = 0;
    while (done < into.length) {
      const part = into.subarray(done);
      const n = Number(await libc().pread(this.open(), part, BigInt(part.length), BigInt(offset + done)));
      if (n < 0) return done + await this.denoReadAt(offset + done, part);
      if (n === 0) break;
      done += n;
    }
    return done;
  }

  async writeAt(offset: number, data: Uint8Array<ArrayBuffer>): Promise<void> {
    let done = 0;
    while (done < data.length) {
      const part = data.subarray(done);
      const n = Number(await libc().pwrite(this.open(), part, BigInt(part.length), BigInt(offset + done)));
      if (n <= 0) return await this.denoWriteAt(offset + done, part);
      done += n;
    }
  }

  /** The descriptor; IO after close fails instead of reaching another file that got the same number. */
  private open(): number {
    if (this.fd < 0) throw new Error(`${this.path} is closed`);
    return this.fd;
  }

  close(): void {
    if (this.fd < 0) return;
    libc().close(this.fd);
    this.fd = -1;
  }

  private async denoReadAt(offset: number, into: Uint8Array): Promise<number> {
    using file = await Deno.open(this.path, { read: true });
    await file.seek(offset, Deno.SeekMode.Start);
    let done = 0;
    while (done < into.length) {
      const n = await file.read(into.subarray(done));
      if (n === null) break;
      done += n;
    }
    return done;
  }

  private async denoWriteAt(offset: number, data: Uint8Array): Promise<void> {
    using file = await Deno.open(this.path, { write: true });
    await file.seek(offset, Deno.SeekMode.Start);
    let done = 0;
    while (done < data.length) done += await file.write(data.subarray(done));
  }
}
