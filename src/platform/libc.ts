/**
 * The few libc calls Deno has no API for: non-blocking `flock` (locks that die with their process) and
 * `syncfs` (one call that makes a whole batch of blob writes durable). Loaded lazily; needs `--allow-ffi`.
 */

const O_RDONLY = 0;
const O_WRONLY = 1;
const O_CREAT = 0o100;
const O_CLOEXEC = 0o2000000;
const LOCK_SH = 1;
const LOCK_EX = 2;
const LOCK_NB = 4;

const symbols = {
  open: { parameters: ["buffer", "i32", "u32"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
  flock: { parameters: ["i32", "i32"], result: "i32" },
  syncfs: { parameters: ["i32"], result: "i32", nonblocking: true },
} as const;

let library: Deno.DynamicLibrary<typeof symbols> | null = null;

function libc(): Deno.DynamicLibrary<typeof symbols>["symbols"] {
  library ??= Deno.dlopen("libc.so.6", symbols);
  return library.symbols;
}

function cString(text: string): Uint8Array<ArrayBuffer> {
  return new TextEncoder().encode(`${text}\0`);
}

/** Opens (creating) `path` and takes a non-blocking flock; returns the fd, or null if it is held. */
export function tryLockFile(path: string, shared: boolean): number | null {
  const fd = libc().open(cString(path), O_WRONLY | O_CREAT | O_CLOEXEC, 0o644);
  if (fd < 0) throw new Error(`cannot open lock file ${path}`);
  if (!tryRelock(fd, shared)) {
    libc().close(fd);
    return null;
  }
  return fd;
}

/** Changes the mode of a held flock (shared ↔ exclusive) without blocking; false when that is not possible. */
export function tryRelock(fd: number, shared: boolean): boolean {
  return libc().flock(fd, (shared ? LOCK_SH : LOCK_EX) | LOCK_NB) === 0;
}

/** Closes a descriptor from {@link tryLockFile}, which releases its lock. */
export function closeFd(fd: number): void {
  libc().close(fd);
}

/** Flushes every dirty page and inode of the filesystem holding `path` to stable storage. */
export async function syncFilesystem(path: string): Promise<void> {
  const fd = libc().open(cString(path), O_RDONLY | O_CLOEXEC, 0);
  if (fd < 0) throw new Error(`cannot open ${path} to sync it`);
  try {
    if (await libc().syncfs(fd) !== 0) throw new Error(`syncfs failed on ${path}`);
  } finally {
    libc().close(fd);
  }
}
