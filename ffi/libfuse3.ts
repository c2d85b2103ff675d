/**
 * libfuse3's low-level API (`libfuse3.so.3`, Debian `fuse3`/`libfuse3-3`) through `Deno.dlopen`: a session, its
 * mount, the request loop and the replies. Loaded on first use; needs `--allow-ffi`.
 *
 * The request loop runs as a `nonblocking` call on one of Deno's blocking threads. It calls each operation
 * through a `Deno.UnsafeCallback.threadSafe`, which runs the JavaScript on the main thread while the loop
 * thread waits; the operation must only take what it needs from its pointer arguments (they die when it
 * returns) and may reply at once or later (`fuse_reply_*` is safe from any thread).
 *
 * Struct layouts (x86-64, libfuse 3.14, `_FILE_OFFSET_BITS=64`, measured with the library's own headers):
 * `struct fuse_lowlevel_ops` is 44 function pointers (352 bytes); `struct stat` 144 bytes; `struct
 * fuse_entry_param` is `{u64 ino, u64 generation, struct stat attr, double attr_timeout, double entry_timeout}`
 * (176 bytes); `struct fuse_file_info` has `flags` at 0, its bit fields at 4 and `fh` at 16; `struct statvfs`
 * 112 bytes; `struct fuse_args` is `{int argc, char **argv, int allocated}` (24 bytes).
 */

const symbols = {
  fuse_session_new: { parameters: ["buffer", "buffer", "usize", "pointer"], result: "pointer" },
  fuse_session_mount: { parameters: ["pointer", "buffer"], result: "i32", nonblocking: true },
  fuse_session_loop: { parameters: ["pointer"], result: "i32", nonblocking: true },
  fuse_session_unmount: { parameters: ["pointer"], result: "void", nonblocking: true },
  fuse_session_destroy: { parameters: ["pointer"], result: "void" },
  fuse_reply_err: { parameters: ["pointer", "i32"], result: "i32" },
  fuse_reply_none: { parameters: ["pointer"], result: "void" },
  fuse_reply_entry: { parameters: ["pointer", "buffer"], result: "i32" },
  fuse_reply_attr: { parameters: ["pointer", "buffer", "f64"], result: "i32" },
  fuse_reply_readlink: { parameters: ["pointer", "buffer"], result: "i32" },
  fuse_reply_open: { parameters: ["pointer", "buffer"], result: "i32" },
  fuse_reply_write: { parameters: ["pointer", "usize"], result: "i32" },
  fuse_reply_buf: { parameters: ["pointer", "buffer", "usize"], result: "i32" },
  fuse_reply_statfs: { parameters: ["pointer", "buffer"], result: "i32" },
  fuse_add_direntry: { parameters: ["pointer", "buffer", "usize", "buffer", "buffer", "i64"], result: "usize" },
} as const;

type Fuse = Deno.DynamicLibrary<typeof symbols>["symbols"];
let library: Deno.DynamicLibrary<typeof symbols> | null = null;

/** The library's functions; throws a one-line error naming the Debian package when it is missing. */
export function libfuse3(): Fuse {
  if (!library) {
    try {
      library = Deno.dlopen("libfuse3.so.3", symbols);
    } catch (error) {
      throw new Error(`Cannot load libfuse3.so.3 (install the Debian package fuse3): ${(error as Error).message}`);
    }
  }
  return library.symbols;
}

// ---- errno values the operations answer with ----
export const EPERM = 1;
export const ENOENT = 2;
export const EIO = 5;
export const EBADF = 9;
export const EACCES = 13;
export const EBUSY = 16;
export const ENOTDIR = 20;
export const EISDIR = 21;
export const EINVAL = 22;
export const EFBIG = 27;
export const EROFS = 30;
export const ENOSYS = 38;

// ---- file types and access modes (st_mode, open flags) ----
export const S_IFDIR = 0o040000;
export const S_IFREG = 0o100000;
export const S_IFLNK = 0o120000;
export const O_ACCMODE = 3;
export const O_RDONLY = 0;
export const O_TRUNC = 0o1000;
/** `FUSE_SET_ATTR_SIZE` in setattr's `to_set`. */
export const SET_ATTR_SIZE = 1 << 3;

// ---- struct sizes and offsets ----
export const STAT_BYTES = 144;
export const ENTRY_PARAM_BYTES = 176;
export const FILE_INFO_BYTES = 40;
export const STATVFS_BYTES = 112;
const OPS_BYTES = 352;

/** Byte offsets of the operations this project implements in `struct fuse_lowlevel_ops`. */
export const OPERATION_OFFSETS = {
  lookup: 16,
  forget: 24,
  getattr: 32,
  setattr: 40,
  readlink: 48,
  open: 112,
  read: 120,
  write: 128,
  flush: 136,
  release: 144,
  fsync: 152,
  opendir: 160,
  readdir: 168,
  releasedir: 176,
  statfs: 192,
} as const;

export type OperationName = keyof typeof OPERATION_OFFSETS;

/** The C signatures of those operations (every one returns void; `req` is the first argument but for none). */
export const OPERATION_SIGNATURES = {
  lookup: { parameters: ["pointer", "u64", "pointer"], result: "void" },
  forget: { parameters: ["pointer", "u64", "u64"], result: "void" },
  getattr: { parameters: ["pointer", "u64", "pointer"], result: "void" },
  setattr: { parameters: ["pointer", "u64", "pointer", "i32", "pointer"], result: "void" },
  readlink: { parameters: ["pointer", "u64"], result: "void" },
  open: { parameters: ["pointer", "u64", "pointer"], result: "void" },
  read: { parameters: ["pointer", "u64", "usize", "i64", "pointer"], result: "void" },
  write: { parameters: ["pointer", "u64", "pointer", "usize", "i64", "pointer"], result: "void" },
  flush: { parameters: ["pointer", "u64", "pointer"], result: "void" },
  release: { parameters: ["pointer", "u64", "pointer"], result: "void" },
  fsync: { parameters: ["pointer", "u64", "i32", "pointer"], result: "void" },
  opendir: { parameters: ["pointer", "u64", "pointer"], result: "void" },
  readdir: { parameters: ["pointer", "u64", "usize", "i64", "pointer"], result: "void" },
  releasedir: { parameters: ["pointer", "u64", "pointer"], result: "void" },
  statfs: { parameters: ["pointer", "u64"], result: "void" },
} as const satisfies Record<OperationName, Deno.UnsafeCallbackDefinition>;

/** `struct fuse_lowlevel_ops` with the given callbacks and NULL for the rest. */
export function operationsTable(pointers: Partial<Record<OperationName, Deno.PointerValue>>): Uint8Array<ArrayBuffer> {
  const table = new Uint8Array(OPS_BYTES);
  const view = new DataView(table.buffer);
  for (const [name, pointer] of Object.entries(pointers)) {
    const offset = OPERATION_OFFSETS[name as OperationName];
    view.setBigUint64(offset, BigInt(Deno.UnsafePointer.value(pointer ?? null)), true);
  }
  return table;
}

/** `struct fuse_args` for `argv`; keep the returned object alive as long as the session may read it. */
export function fuseArgs(argv: readonly string[]): { struct: Uint8Array<ArrayBuffer>; keep: unknown[] } {
  const strings = argv.map((arg) => new TextEncoder().encode(`${arg}\0`));
  const pointers = new BigUint64Array(argv.length + 1);
  strings.forEach((string, i) => pointers[i] = BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(string))));
  const struct = new Uint8Array(24);
  const view = new DataView(struct.buffer);
  view.setInt32(0, argv.length, true);
  view.setBigUint64(8, BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(pointers))), true);
  view.setInt32(16, 0, true);
  return { struct, keep: [strings, pointers] };
}

export interface StatFields {
  ino: number;
  mode: number;
  nlink: number;
  uid: number;
  gid: number;
  size: number;
  /** Seconds since the epoch (access, modification and change time alike). */
  time: number;
}

/** Writes `struct stat` into `into` at `offset`. */
export function writeStat(into: Uint8Array<ArrayBuffer>, offset: number, stat: StatFields): void {
  const view = new DataView(into.buffer, into.byteOffset + offset, STAT_BYTES);
  new Uint8Array(into.buffer, into.byteOffset + offset, STAT_BYTES).fill(0);
  view.setBigUint64(8, BigInt(stat.ino), true);
  view.setBigUint64(16, BigInt(stat.nlink), true);
  view.setUint32(24, stat.mode, true);
  view.setUint32(28, stat.uid, true);
  view.setUint32(32, stat.gid, true);
  view.setBigInt64(48, BigInt(stat.size), true);
  view.setBigInt64(56, 4096n, true);
  view.setBigInt64(64, BigInt(Math.ceil(stat.size / 512)), true);
  const micros = Math.round(stat.time * 1e6);
  const seconds = BigInt(Math.floor(micros / 1e6));
  const nanos = BigInt((micros % 1e6) * 1000);
  for (const at of [72, 88, 104]) {
    view.setBigInt64(at, seconds, true);
    view.setBigInt64(at + 8, nanos, true);
  }
}

/** `struct stat` alone. */
export function statStruct(stat: StatFields): Uint8Array<ArrayBuffer> {
  const struct = new Uint8Array(STAT_BYTES);
  writeStat(struct, 0, stat);
  return struct;
}

/** `struct fuse_entry_param` for a lookup reply. */
export function entryParam(stat: StatFields, timeoutSeconds: number): Uint8Array<ArrayBuffer> {
  const struct = new Uint8Array(ENTRY_PARAM_BYTES);
  const view = new DataView(struct.buffer);
  view.setBigUint64(0, BigInt(stat.ino), true);
  writeStat(struct, 16, stat);
  view.setFloat64(160, timeoutSeconds, true);
  view.setFloat64(168, timeoutSeconds, true);
  return struct;
}

/** `struct statvfs` with block size, block counts and the longest name. */
export function statvfsStruct(
  fields: { blockSize: number; blocks: number; free: number; nameMax: number },
): Uint8Array<ArrayBuffer> {
  const struct = new Uint8Array(STATVFS_BYTES);
  const view = new DataView(struct.buffer);
  view.setBigUint64(0, BigInt(fields.blockSize), true);
  view.setBigUint64(8, BigInt(fields.blockSize), true);
  view.setBigUint64(16, BigInt(fields.blocks), true);
  view.setBigUint64(24, BigInt(fields.free), true);
  view.setBigUint64(32, BigInt(fields.free), true);
  view.setBigUint64(80, BigInt(fields.nameMax), true);
  return struct;
}

/** The open flags (`fi->flags`) of a request's `struct fuse_file_info`. */
export function fileInfoFlags(fi: Deno.PointerValue): number {
  return fi === null ? 0 : new Deno.UnsafePointerView(fi).getInt32(0);
}

/** The file handle (`fi->fh`) of a request's `struct fuse_file_info`. */
export function fileInfoHandle(fi: Deno.PointerValue): number {
  return fi === null ? 0 : Number(new Deno.UnsafePointerView(fi).getBigUint64(16));
}

/** A copy of the request's `struct fuse_file_info` with `fh` set (for fuse_reply_open). */
export function fileInfoWithHandle(fi: Deno.PointerValue, handle: number): Uint8Array<ArrayBuffer> {
  const struct = new Uint8Array(FILE_INFO_BYTES);
  if (fi !== null) new Deno.UnsafePointerView(fi).copyInto(struct);
  new DataView(struct.buffer).setBigUint64(16, BigInt(handle), true);
  return struct;
}

/** A NUL-terminated C string. */
export function cString(text: string): Uint8Array<ArrayBuffer> {
  return new TextEncoder().encode(`${text}\0`);
}
