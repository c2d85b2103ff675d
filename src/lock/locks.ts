/**
 * backy2's file locks: a non-blocking flock on `{lock_dir}/backy_{name}.lock`, the lock backend of an SQLite
 * catalog. A lock dies with its process, so `kill -9` never leaves a stale lock; an empty lock_dir disables
 * locking.
 *
 * `Deno.FsFile.tryLockSync` is flock(2) with LOCK_NB, so these locks exclude those of backy2 2.13.8 (Python's
 * fcntl.flock) on the same files, and a held lock changes mode in place as flock does. flock does not know
 * who holds a lock, so a refusal names no holder and `backy2 locks` shows empty holders.
 */
import { join } from "../util/paths.ts";
import { BackyError } from "../util/errors.ts";
import { type LockBackend, type LockHolder, LockManager, type LockMode } from "./lock_manager.ts";

export class FlockBackend implements LockBackend {
  private readonly files = new Map<string, Deno.FsFile>();

  constructor(private readonly lockDir: string) {}

  take(name: string, mode: LockMode): Promise<boolean> {
    const file = this.open(name);
    if (!file.tryLockSync(mode === "exclusive")) {
      file.close();
      return Promise.resolve(false);
    }
    this.files.set(name, file);
    return Promise.resolve(true);
  }

  change(name: string, from: LockMode, to: LockMode): Promise<boolean> {
    const file = this.files.get(name);
    if (!file) return Promise.resolve(false);
    if (file.tryLockSync(to === "exclusive")) return Promise.resolve(true);
    // flock drops the old lock before it tries the new mode: take the old mode back, or give the lock up.
    if (!file.tryLockSync(from === "exclusive")) {
      throw new BackyError(`Lost the lock ${name} while changing it to ${to}; another process took it.`);
    }
    return Promise.resolve(false);
  }

  release(name: string): Promise<void> {
    // The file stays: deleting it would let a second process lock the old inode while a third locks a new one.
    this.files.get(name)?.close();
    this.files.delete(name);
    return Promise.resolve();
  }

  holders(): Promise<LockHolder[]> {
    return Promise.resolve([]);
  }

  /** The lock files that another process holds right now (their holders are unknown to flock). */
  list(): Promise<LockHolder[]> {
    const held: LockHolder[] = [];
    let entries: Deno.DirEntry[];
    try {
      entries = [...Deno.readDirSync(this.lockDir)];
    } catch {
      return Promise.resolve([]);
    }
    for (const entry of entries) {
      const name = /^backy_(.+)\.lock$/.exec(entry.name)?.[1];
      if (!name || !entry.isFile || this.files.has(name)) continue;
      const mode = this.probe(name);
      if (mode !== null) held.push({ name, mode, host: "", pid: 0, command: "", since: "", heartbeat: null });
    }
    return Promise.resolve(held.sort((a, b) => (a.name < b.name ? -1 : 1)));
  }

  close(): Promise<void> {
    for (const file of this.files.values()) file.close();
    this.files.clear();
    return Promise.resolve();
  }

  /** How another process holds `name`: null when it is free, else the weakest mode that explains a refusal. */
  private probe(name: string): LockMode | null {
    const file = this.open(name);
    try {
      if (file.tryLockSync(true)) return null;
      return file.tryLockSync(false) ? "shared" : "exclusive";
    } finally {
      file.close();
    }
  }

  /** Opens (creating) the lock file of `name`; a lock_dir that cannot hold it is a one-line error. */
  private open(name: string): Deno.FsFile {
    const path = join(this.lockDir, `backy_${name}.lock`);
    try {
      Deno.mkdirSync(this.lockDir, { recursive: true });
      return Deno.openSync(path, { write: true, create: true, mode: 0o644 });
    } catch (error) {
      const why = isFileNotDirectory(this.lockDir) ? "it is not a directory." : (error as Error).message;
      throw new BackyError(`Cannot use lock_dir ${this.lockDir}: ${why}`, { exitCode: 1, bare: true });
    }
  }
}

/** The lock manager of an SQLite catalog: flock files in `lockDir`; an empty lockDir disables locking. */
export function fileLocks(lockDir: string): LockManager {
  return new LockManager(new FlockBackend(lockDir), lockDir !== "");
}

function isFileNotDirectory(path: string): boolean {
  try {
    return !Deno.statSync(path).isDirectory;
  } catch {
    return false;
  }
}
