/**
 * backy2's file locks (behavior §19): an exclusive non-blocking flock on `{lock_dir}/backy_{name}.lock`.
 * A lock dies with its process, so `kill -9` never leaves a stale lock; an empty lock_dir disables locking.
 */
import { join } from "node:path";
import { closeFd, tryLockFile } from "../platform/libc.ts";

export class Locks {
  private readonly held = new Map<string, number>();

  constructor(private readonly lockDir: string) {}

  /** Takes the lock `name`; false when another process holds it. */
  lock(name: string): boolean {
    if (!this.lockDir) return true;
    if (this.held.has(name)) return true;
    Deno.mkdirSync(this.lockDir, { recursive: true });
    const fd = tryLockFile(this.path(name));
    if (fd === null) return false;
    this.held.set(name, fd);
    return true;
  }

  unlock(name: string): void {
    const fd = this.held.get(name);
    if (fd === undefined) return;
    this.held.delete(name);
    // The file stays: deleting it would let a second process lock the old inode while a third locks a new one.
    closeFd(fd);
  }

  /** True when nobody holds `name` right now (takes and releases it). */
  isFree(name: string): boolean {
    if (this.held.has(name)) return true;
    if (!this.lock(name)) return false;
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
