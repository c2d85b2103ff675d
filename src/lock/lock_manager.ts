/**
 * Locks as scoped leases: `await using lease = await locks.acquire(name, mode, refused)` holds lock `name`
 * until the scope ends, however it ends.
 *
 * A process may hold one name through several leases. While any of them is exclusive the lock is held
 * exclusively, otherwise shared; taking an exclusive lease on a name held shared changes the lock's mode (and
 * fails when another holder prevents it), and ending it changes the mode back. So `cleanup --full` takes
 * `backy` exclusively inside the shared lease every command holds, and nothing else needs to restore modes.
 *
 * Where the locks live is a {@link LockBackend}: flock files in lock_dir (locks.ts) for an SQLite catalog,
 * leases in the PostgreSQL catalog (lease_locks.ts) shared by every backup host.
 *
 * Names: `backy` (every command shared; `cleanup --full` and `rekey` exclusive), a version uid (exclusive
 * while a backup writes it or `rm` removes it; shared while it is read or used as a base),
 * `backy-cleanup-fast` (one fast cleanup at a time).
 */
export type LockMode = "shared" | "exclusive";

/** Who holds a lock, as the lease locks record it. */
export interface LockHolder {
  name: string;
  mode: LockMode;
  host: string;
  pid: number;
  command: string;
  /** ISO 8601 UTC. */
  since: string;
  /** The holder's last heartbeat (ISO 8601 UTC); null where locks have none (flock). */
  heartbeat: string | null;
}

export interface LockBackend {
  /** Takes a lock this process does not hold yet; false when another holder prevents it. */
  take(name: string, mode: LockMode): Promise<boolean>;
  /** Changes the mode of a lock this process holds; false (still held in `from`) when another prevents it. */
  change(name: string, from: LockMode, to: LockMode): Promise<boolean>;
  release(name: string, mode: LockMode): Promise<void>;
  /** The other holders of `name`, when the backend knows them (one line for a refusal). */
  holders(name: string): Promise<LockHolder[]>;
  /** Every held lock the backend can see. */
  list(): Promise<LockHolder[]>;
  close(): Promise<void>;
}

export interface Lease extends AsyncDisposable {
  readonly name: string;
  readonly mode: LockMode;
  /** Ends the lease (again: nothing). */
  release(): Promise<void>;
}

/** The error for a refused lock; `holder` names who holds it when that is known (another host, say). */
export type Refusal = (holder: string | null) => Error;

export class LockManager {
  private readonly held = new Map<string, { shared: number; exclusive: number }>();

  /** @param enabled false (an empty lock_dir): every lease is granted without locking anything. */
  constructor(private readonly backend: LockBackend, readonly enabled = true) {}

  /** Takes `name` in `mode`, or null when another holder prevents it. */
  async tryAcquire(name: string, mode: LockMode): Promise<Lease | null> {
    if (!this.enabled) return this.lease(name, mode, async () => {});
    const counts = this.held.get(name);
    if (!counts) {
      if (!await this.backend.take(name, mode)) return null;
      this.held.set(name, { shared: 0, exclusive: 0 });
    } else if (mode === "exclusive" && counts.exclusive === 0) {
      if (!await this.backend.change(name, "shared", "exclusive")) return null;
    }
    this.held.get(name)![mode]++;
    return this.lease(name, mode, () => this.end(name, mode));
  }

  /** Takes `name` in `mode`; throws `refused(holder)` when another holder prevents it. */
  async acquire(name: string, mode: LockMode, refused: Refusal): Promise<Lease> {
    const lease = await this.tryAcquire(name, mode);
    if (lease) return lease;
    const holders = await this.backend.holders(name).catch(() => []);
    throw refused(holders.length > 0 ? describeHolders(holders) : null);
  }

  /** Every lock held (with who holds it, where the backend knows). */
  list(): Promise<LockHolder[]> {
    return this.backend.list();
  }

  /** Releases whatever is still held and closes the backend. */
  async close(): Promise<void> {
    for (const [name, counts] of this.held) await this.backend.release(name, counts.exclusive ? "exclusive" : "shared");
    this.held.clear();
    await this.backend.close();
  }

  private lease(name: string, mode: LockMode, end: () => Promise<void>): Lease {
    let ended = false;
    const release = async () => {
      if (ended) return;
      ended = true;
      await end();
    };
    return { name, mode, release, [Symbol.asyncDispose]: release };
  }

  private async end(name: string, mode: LockMode): Promise<void> {
    const counts = this.held.get(name);
    if (!counts) return;
    counts[mode]--;
    if (counts.shared + counts.exclusive === 0) {
      this.held.delete(name);
      await this.backend.release(name, mode);
    } else if (mode === "exclusive" && counts.exclusive === 0) {
      await this.backend.change(name, "exclusive", "shared");
    }
  }
}

/** `backup (pid 42) on host b2 since 2026-12-01 05:21:24 UTC`, for each holder. */
export function describeHolders(holders: LockHolder[]): string {
  return holders.map((h) =>
    `${h.command} (pid ${h.pid}) on host ${h.host} since ${h.since.slice(0, 19).replace("T", " ")} UTC`
  ).join("; ");
}
