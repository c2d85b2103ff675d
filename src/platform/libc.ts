/**
 * The libc call Deno has no API for: `syncfs` (one call that makes a whole batch of blob writes durable).
 * Loaded lazily; needs `--allow-ffi`. (Locks use `Deno.FsFile.tryLockSync`, which is flock(2).)
 */

const O_RDONLY = 0;
const O_CLOEXEC = 0o2000000;

const symbols = {
  open: { parameters: ["buffer", "i32", "u32"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
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
