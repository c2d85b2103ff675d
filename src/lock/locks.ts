/**
 * backy2's file locks: a non-blocking flock on `{lock_dir}/backy_{name}.lock`. A lock dies with
 * its process, so `kill -9` never leaves a stale lock; an empty lock_dir disables locking.
 *
 * `Deno.FsFile.tryLockSync` is flock(2) with LOCK_NB, so these locks exclude those of backy2 2.13.8 (Python's
 * fcntl.flock) on the same files, and a held lock changes mode in place as flock does.
 *
 * Names and modes:
 * - `backy`: every command holds it shared while it runs; `cleanup --full` needs it exclusive.
 * - a version uid: exclusive while a backup writes the version or `rm` removes it; shared while a restore or
 *   scrub reads it, or while a backup uses it as its base, so it cannot be removed under them.
 * - `backy-cleanup-fast`: one fast cleanup at a time.
 */
import { join } from "../util/paths.ts";
import { BackyError } from "../util/errors.ts";

export type LockMode = "shared" | "exclusive";

export class Locks {
  private readonly held = new Map<string, { file: Deno.FsFile; mode: LockMode }>();

  constructor(private readonly lockDir: string) {}

  /** False when lock_dir is empty: every lock is then granted without locking anything. */
  get enabled(): boolean {
    return this.lockDir !== "";
  }

  /** Takes (or changes to) the lock `name` in `mode`; false when another process prevents it. */
  lock(name: string, mode: LockMode = "exclusive"): boolean {
    if (!this.enabled) return true;
    const current = this.held.get(name);
    if (current) {
      if (current.mode === mode) return true;
      if (current.file.tryLockSync(mode === "exclusive")) {
        current.mode = mode;
        return true;
      }
      // flock drops the old lock before it tries the new mode: take the old mode back, or give the lock up.
      if (!current.file.tryLockSync(current.mode === "exclusive")) this.unlock(name);
      return false;
    }
    const file = this.open(name);
    if (!file.tryLockSync(mode === "exclusive")) {
      file.close();
      return false;
    }
    this.held.set(name, { file, mode });
    return true;
  }

  unlock(name: string): void {
    const lock = this.held.get(name);
    if (!lock) return;
    this.held.delete(name);
    // The file stays: deleting it would let a second process lock the old inode while a third locks a new one.
    lock.file.close();
  }

  /** True when this process could take `name` in `mode` right now (takes and releases it). */
  isFree(name: string, mode: LockMode = "exclusive"): boolean {
    if (this.held.has(name)) return true;
    if (!this.lock(name, mode)) return false;
    this.unlock(name);
    return true;
  }

  unlockAll(): void {
    for (const name of [...this.held.keys()]) this.unlock(name);
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

function isFileNotDirectory(path: string): boolean {
  try {
    return !Deno.statSync(path).isDirectory;
  } catch {
    return false;
  }
}
