/**
 * backy2's file locks (behavior §19): a non-blocking flock on `{lock_dir}/backy_{name}.lock`. A lock dies with
 * its process, so `kill -9` never leaves a stale lock; an empty lock_dir disables locking.
 *
 * Names and modes:
 * - `backy`: every command holds it shared while it runs; `cleanup --full` needs it exclusive.
 * - a version uid: exclusive while a backup writes the version or `rm` removes it; shared while a restore or
 *   scrub reads it, or while a backup uses it as its base, so it cannot be removed under them.
 * - `backy-cleanup-fast`: one fast cleanup at a time.
 */
import { join } from "../util/paths.ts";
import { closeFd, tryLockFile, tryRelock } from "../platform/libc.ts";

export type LockMode = "shared" | "exclusive";

export class Locks {
  private readonly held = new Map<string, { fd: number; mode: LockMode }>();

  constructor(private readonly lockDir: string) {}

  /** Takes (or changes to) the lock `name` in `mode`; false when another process prevents it. */
  lock(name: string, mode: LockMode = "exclusive"): boolean {
    if (!this.lockDir) return true;
    const current = this.held.get(name);
    if (current) {
      if (current.mode === mode) return true;
      if (tryRelock(current.fd, mode === "shared")) {
        current.mode = mode;
        return true;
      }
      // flock drops the old lock before it tries the new mode: take the old mode back, or give the lock up.
      if (!tryRelock(current.fd, current.mode === "shared")) this.unlock(name);
      return false;
    }
    Deno.mkdirSync(this.lockDir, { recursive: true });
    const fd = tryLockFile(this.path(name), mode === "shared");
    if (fd === null) return false;
    this.held.set(name, { fd, mode });
    return true;
  }

  unlock(name: string): void {
    const lock = this.held.get(name);
    if (!lock) return;
    this.held.delete(name);
    // The file stays: deleting it would let a second process lock the old inode while a third locks a new one.
    closeFd(lock.fd);
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

  private path(name: string): string {
    return join(this.lockDir, `backy_${name}.lock`);
  }
}
