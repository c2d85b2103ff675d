/**
 * The FUSE filesystem of `backy2 fuse`: the {@link FuseTree} served through libfuse3's low-level API.
 *
 * Every operation is a thread-safe callback that runs on the main thread while libfuse's loop thread waits,
 * so each one only looks at the catalog (synchronously, quickly) and either replies at once or, for `data`
 * reads and writes, starts the IO and replies when it ends. Nothing here may touch the mountpoint itself from
 * the main thread: the kernel would wait for an answer that only this thread can give.
 *
 * Ending: the mount is detached lazily (`fusermount3 -u -z`), which lets files still open (a loop device)
 * keep working until they are closed; the loop then ends and the session is destroyed once every reply has
 * been sent. A process that dies without this leaves a dead mount that `fusermount3 -u` clears.
 */
import {
  cString,
  EBUSY,
  EFBIG,
  EINVAL,
  EIO,
  EISDIR,
  ENOENT,
  ENOTDIR,
  entryParam,
  EPERM,
  EROFS,
  fileInfoHandle,
  fileInfoWithHandle,
  fuseArgs,
  libfuse3,
  O_ACCMODE,
  O_RDONLY,
  OPERATION_SIGNATURES,
  type OperationName,
  operationsTable,
  S_IFDIR,
  S_IFLNK,
  S_IFREG,
  SET_ATTR_SIZE,
  STAT_BYTES,
  type StatFields,
  statStruct,
  statvfsStruct,
} from "../../ffi/libfuse3.ts";
import type { Logger } from "../log/logger.ts";
import { type Image, UnreadableBlockError } from "../engine/block_reader.ts";
import { type DirEntry, type FuseNode, FuseTree } from "./fuse_tree.ts";
import { NotServableError, type VersionSource } from "./served_versions.ts";

/** Seconds the kernel may cache names and attributes (metadata can change: tags, protection, new versions). */
const TIMEOUT = 1;
/** `fuse_file_info` bit fields (at byte 4): direct_io for metadata files, keep_cache for `data`. */
const DIRECT_IO = 1 << 1;
const KEEP_CACHE = 1 << 2;

type Handle =
  | { kind: "data"; image: Image }
  | { kind: "file"; content: Uint8Array<ArrayBuffer> }
  | { kind: "dir"; entries: { name: string; ino: number; mode: number }[] };

type Req = Deno.PointerValue;

export class FuseMount {
  private readonly fuse = libfuse3();
  private readonly tree: FuseTree;
  private readonly handles = new Map<number, Handle>();
  private nextHandle = 1;
  private readonly callbacks: Deno.UnsafeCallback[] = [];
  /** Replies still to be sent by IO in flight: the session must outlive them. */
  private pending = 0;
  private session: Deno.PointerValue = null;
  private loop: Promise<number> | null = null;
  private loopEnded = false;
  private readonly owner = { uid: Deno.uid() ?? 0, gid: Deno.gid() ?? 0 };
  private readonly keep: unknown[] = [];

  private constructor(
    readonly mountpoint: string,
    private readonly served: VersionSource,
    private readonly log: Logger,
  ) {
    this.tree = new FuseTree(served, Date.now() / 1000);
  }

  /** Mounts the tree at `mountpoint` (an existing directory) and starts answering requests. */
  static async mount(mountpoint: string, served: VersionSource, log: Logger): Promise<FuseMount> {
    const mount = new FuseMount(mountpoint, served, log);
    await mount.start();
    return mount;
  }

  /** Resolves when the request loop has ended (unmounted, here or by `fusermount3 -u`). */
  get ended(): Promise<number> {
    return this.loop!;
  }

  private async start(): Promise<void> {
    const args = fuseArgs(["backy2", "-o", "allow_other,default_permissions,fsname=backy2,subtype=backy2"]);
    const table = operationsTable(this.operations());
    this.keep.push(args, table);
    this.session = this.fuse.fuse_session_new(args.struct, table, BigInt(table.length), null);
    if (this.session === null) {
      this.destroy();
      throw new Error("Cannot start a FUSE session (fuse_session_new failed)");
    }
    if (await this.fuse.fuse_session_mount(this.session, cString(this.mountpoint)) !== 0) {
      this.destroy();
      const nonRoot = Deno.uid() === 0 ? "" : ", and user_allow_other set in /etc/fuse.conf";
      throw new Error(
        `Cannot mount a FUSE filesystem at ${this.mountpoint}: is /dev/fuse there, fuse3 installed${nonRoot}?`,
      );
    }
    this.loop = this.fuse.fuse_session_loop(this.session);
    this.loop.then(() => this.loopEnded = true, () => this.loopEnded = true);
  }

  /** Detaches the mount, waits until the kernel lets go of it and every reply is sent, and frees the session. */
  async unmount(): Promise<void> {
    if (!this.loopEnded) await detach(this.mountpoint);
    const slow = setTimeout(() => {
      this.log.info(`Waiting for files still open in ${this.mountpoint} (a loop device?) to be closed.`);
    }, 2000);
    try {
      await this.loop;
      while (this.pending > 0) await new Promise((resolve) => setTimeout(resolve, 10));
    } finally {
      clearTimeout(slow);
    }
    await this.fuse.fuse_session_unmount(this.session);
    this.destroy();
  }

  private destroy(): void {
    if (this.session !== null) this.fuse.fuse_session_destroy(this.session);
    this.session = null;
    for (const callback of this.callbacks) callback.close();
    this.callbacks.length = 0;
  }

  private operations(): Partial<Record<OperationName, Deno.PointerValue>> {
    const f = this.fuse;
    const ops = {
      lookup: (req: Req, parent: Int, name: Deno.PointerValue) => {
        const parentPath = this.tree.path(Number(parent));
        const childName = Deno.UnsafePointerView.getCString(name!);
        if (parentPath === undefined) return f.fuse_reply_err(req, ENOENT);
        const path = FuseTree.join(parentPath, childName);
        this.later(req, this.tree.node(path), (node) => {
          if (!node) return f.fuse_reply_err(req, ENOENT);
          f.fuse_reply_entry(req, entryParam(this.stat(path, node), TIMEOUT));
        });
      },
      forget: (req: Req) => f.fuse_reply_none(req),
      getattr: (req: Req, ino: Int) =>
        this.later(req, this.nodeOf(ino), (found) => {
          if (!found) return f.fuse_reply_err(req, ENOENT);
          f.fuse_reply_attr(req, statStruct(this.stat(found.path, found.node)), TIMEOUT);
        }),
      setattr: (req: Req, ino: Int, attr: Deno.PointerValue, toSet: number) => {
        // Read now: the pointer is valid only during the call.
        const size = toSet & SET_ATTR_SIZE ? Number(new Deno.UnsafePointerView(attr!).getBigInt64(48)) : null;
        this.later(req, this.nodeOf(ino), (found) => {
          if (!found) return f.fuse_reply_err(req, ENOENT);
          const stat = this.stat(found.path, found.node);
          // The size is the backup's; times and modes are accepted and forgotten (`touch` works).
          if (size !== null && size !== stat.size) {
            return f.fuse_reply_err(req, found.node.kind === "data" ? EPERM : EROFS);
          }
          f.fuse_reply_attr(req, statStruct(stat), TIMEOUT);
        });
      },
      readlink: (req: Req, ino: Int) =>
        this.later(req, this.nodeOf(ino), (found) => {
          if (found?.node.kind !== "link") return f.fuse_reply_err(req, found ? EINVAL : ENOENT);
          f.fuse_reply_readlink(req, cString(found.node.target));
        }),
      open: (req: Req, ino: Int, fi: Deno.PointerValue) => {
        // The file info is valid only during the call: its fields are copied for the later reply.
        const info = fileInfoWithHandle(fi, 0);
        this.later(req, this.open(req, ino, info), () => {});
      },
      read: (req: Req, _ino: Int, size: Int, offset: Int, fi: Deno.PointerValue) =>
        this.read(req, Number(size), Number(offset), fileInfoHandle(fi)),
      write: (req: Req, _ino: Int, buf: Deno.PointerValue, size: Int, offset: Int, fi: Deno.PointerValue) => {
        if (Number(size) === 0) return f.fuse_reply_write(req, 0n);
        const data = new Uint8Array(Deno.UnsafePointerView.getArrayBuffer(buf!, Number(size))).slice();
        this.write(req, data, Number(offset), fileInfoHandle(fi));
      },
      flush: (req: Req) => f.fuse_reply_err(req, 0),
      release: (req: Req, _ino: Int, fi: Deno.PointerValue) => {
        this.handles.delete(fileInfoHandle(fi));
        f.fuse_reply_err(req, 0);
      },
      fsync: (req: Req) => f.fuse_reply_err(req, 0),
      opendir: (req: Req, ino: Int, fi: Deno.PointerValue) => {
        const info = fileInfoWithHandle(fi, 0);
        this.later(req, this.opendir(req, ino, info), () => {});
      },
      readdir: (req: Req, _ino: Int, size: Int, offset: Int, fi: Deno.PointerValue) =>
        this.readdir(req, Number(size), Number(offset), fileInfoHandle(fi)),
      releasedir: (req: Req, _ino: Int, fi: Deno.PointerValue) => {
        this.handles.delete(fileInfoHandle(fi));
        f.fuse_reply_err(req, 0);
      },
      statfs: (req: Req) =>
        f.fuse_reply_statfs(req, statvfsStruct({ blockSize: 512, blocks: 4096, free: 2048, nameMax: 255 })),
    } satisfies Record<OperationName, (req: Req, ...args: never[]) => unknown>;
    const pointers: Partial<Record<OperationName, Deno.PointerValue>> = {};
    for (const [name, operation] of Object.entries(ops) as [OperationName, (...args: unknown[]) => unknown][]) {
      const callback = Deno.UnsafeCallback.threadSafe(
        OPERATION_SIGNATURES[name] as Deno.UnsafeCallbackDefinition,
        (...args: unknown[]) => this.guarded(name, args[0] as Req, () => operation(...args)),
      );
      this.callbacks.push(callback);
      pointers[name] = callback.pointer;
    }
    return pointers;
  }

  /** Runs an operation; a bug in it answers EIO instead of throwing into libfuse (which would end the process). */
  private guarded(name: string, req: Req, operation: () => unknown): void {
    try {
      operation();
    } catch (error) {
      this.log.error(`FUSE ${name} failed: ${(error as Error).message}`);
      if (name !== "forget") this.fuse.fuse_reply_err(req, EIO);
    }
  }

  private async nodeOf(ino: Int): Promise<{ path: string; node: FuseNode } | null> {
    const path = this.tree.path(Number(ino));
    const node = path === undefined ? null : await this.tree.node(path);
    return node ? { path: path!, node } : null;
  }

  private stat(path: string, node: FuseNode): StatFields {
    const base = { ino: this.tree.inode(path), time: node.time, ...this.owner };
    switch (node.kind) {
      case "dir":
        return { ...base, mode: S_IFDIR | 0o700, nlink: 2, size: 0 };
      case "file":
        return { ...base, mode: S_IFREG | 0o600, nlink: 1, size: node.content.length };
      case "data":
        return { ...base, mode: S_IFREG | 0o600, nlink: 1, size: node.size };
      case "link":
        return { ...base, mode: S_IFLNK | 0o777, nlink: 1, size: node.target.length };
    }
  }

  private async open(req: Req, ino: Int, info: Uint8Array<ArrayBuffer>): Promise<void> {
    const f = this.fuse;
    const found = await this.nodeOf(ino);
    if (!found) return void f.fuse_reply_err(req, ENOENT);
    const { node } = found;
    if (node.kind === "dir") return void f.fuse_reply_err(req, EISDIR);
    if (node.kind === "link") return void f.fuse_reply_err(req, EINVAL);
    if (node.kind === "file") {
      const flags = new DataView(info.buffer).getInt32(0, true);
      if ((flags & O_ACCMODE) !== O_RDONLY) return void f.fuse_reply_err(req, EROFS);
      return this.replyOpen(req, info, { kind: "file", content: node.content }, DIRECT_IO);
    }
    let image: Image;
    try {
      image = await this.served.open(node.uid);
    } catch (error) {
      if (!(error instanceof NotServableError)) throw error;
      this.log.error(error.message);
      return void f.fuse_reply_err(req, error.reason === "unknown" ? ENOENT : error.reason === "locked" ? EBUSY : EIO);
    }
    this.replyOpen(req, info, { kind: "data", image }, KEEP_CACHE);
  }

  /** Answers an open with a new handle, in `info` (the request's file info, copied during the call). */
  private replyOpen(req: Req, info: Uint8Array<ArrayBuffer>, handle: Handle, bits: number): void {
    const id = this.nextHandle++;
    this.handles.set(id, handle);
    const view = new DataView(info.buffer);
    view.setBigUint64(16, BigInt(id), true);
    view.setUint32(4, view.getUint32(4, true) | bits, true);
    if (this.fuse.fuse_reply_open(req, info) !== 0) this.handles.delete(id);
  }

  private read(req: Req, size: number, offset: number, handleId: number): void {
    const f = this.fuse;
    const handle = this.handles.get(handleId);
    if (!handle || handle.kind === "dir") return void f.fuse_reply_err(req, handle ? EISDIR : EINVAL);
    if (handle.kind === "file") {
      const part = handle.content.subarray(Math.min(offset, handle.content.length), offset + size);
      return void f.fuse_reply_buf(req, part, BigInt(part.length));
    }
    const { image } = handle;
    const length = Math.max(0, Math.min(size, image.sizeBytes - offset));
    if (length === 0) return void f.fuse_reply_buf(req, new Uint8Array(0), 0n);
    this.later(
      req,
      image.read(offset, length),
      (data) => f.fuse_reply_buf(req, data as Uint8Array<ArrayBuffer>, BigInt(length)),
    );
  }

  private write(req: Req, data: Uint8Array<ArrayBuffer>, offset: number, handleId: number): void {
    const f = this.fuse;
    const handle = this.handles.get(handleId);
    if (handle?.kind !== "data" || !handle.image.write) return void f.fuse_reply_err(req, EROFS);
    const length = Math.min(data.length, handle.image.sizeBytes - offset);
    if (length <= 0) return void f.fuse_reply_err(req, EFBIG);
    this.later(
      req,
      handle.image.write(offset, data.subarray(0, length)),
      () => f.fuse_reply_write(req, BigInt(length)),
    );
  }

  /** Replies when `work` ends: with `reply`, or with EIO (a bad block was already logged where it was found). */
  private later<T>(req: Req, work: Promise<T>, reply: (result: T) => unknown): void {
    this.pending++;
    const fail = (error: unknown) => {
      if (!(error instanceof UnreadableBlockError)) this.log.error(`FUSE IO failed: ${(error as Error).message}`);
      this.fuse.fuse_reply_err(req, EIO);
    };
    work.then((result) => {
      try {
        reply(result);
      } catch (error) {
        fail(error);
      }
    }, fail).finally(() => this.pending--);
  }

  private async opendir(req: Req, ino: Int, info: Uint8Array<ArrayBuffer>): Promise<void> {
    const path = this.tree.path(Number(ino));
    const children = path === undefined ? null : await this.tree.children(path);
    if (!children) return void this.fuse.fuse_reply_err(req, path === undefined ? ENOENT : ENOTDIR);
    const parent = path === "/" ? "/" : path!.slice(0, path!.lastIndexOf("/")) || "/";
    const entries = [
      { name: ".", ino: Number(ino), mode: S_IFDIR },
      { name: "..", ino: this.tree.inode(parent), mode: S_IFDIR },
      ...children.map((child) => ({
        name: child.name,
        ino: this.tree.inode(FuseTree.join(path!, child.name)),
        mode: MODES[child.type],
      })),
    ];
    this.replyOpen(req, info, { kind: "dir", entries }, 0);
  }

  private readdir(req: Req, size: number, offset: number, handleId: number): void {
    const handle = this.handles.get(handleId);
    if (handle?.kind !== "dir") return void this.fuse.fuse_reply_err(req, ENOTDIR);
    const buffer = new Uint8Array(size);
    const stat = new Uint8Array(STAT_BYTES);
    let used = 0;
    for (let index = offset; index < handle.entries.length; index++) {
      const entry = handle.entries[index];
      const view = new DataView(stat.buffer);
      view.setBigUint64(8, BigInt(entry.ino), true);
      view.setUint32(24, entry.mode, true);
      const room = size - used;
      const needed = Number(
        this.fuse.fuse_add_direntry(
          req,
          buffer.subarray(used),
          BigInt(room),
          cString(entry.name),
          stat,
          BigInt(index + 1),
        ),
      );
      if (needed > room) break;
      used += needed;
    }
    this.fuse.fuse_reply_buf(req, buffer, BigInt(used));
  }
}

type Int = number | bigint;

const MODES: Record<DirEntry["type"], number> = { dir: S_IFDIR, file: S_IFREG, link: S_IFLNK };

/** Detaches the mount from the filesystem tree without waiting for its files to be closed. */
async function detach(mountpoint: string): Promise<void> {
  for (const [command, args] of [["fusermount3", ["-u", "-z", mountpoint]], ["umount", ["-l", mountpoint]]] as const) {
    try {
      const output = await new Deno.Command(command, { args: [...args], stdout: "null", stderr: "piped" }).output();
      if (output.success) return;
    } catch {
      // not installed: try the next one
    }
  }
  throw new Error(`Cannot unmount ${mountpoint}; run fusermount3 -u ${mountpoint}`);
}
