/**
 * The lock manager a configuration asks for: flock files in lock_dir with an SQLite catalog, leases in the
 * catalog with a PostgreSQL one (loaded, with its client, only then).
 */
import type { Config } from "../config/config.ts";
import { type LockBackend, LockManager } from "./lock_manager.ts";
import { fileLocks } from "./locks.ts";
import type { LeaseIdentity } from "./lease_locks.ts";

/** This host's name in lock leases: BACKY2_HOSTNAME, else the system's host name. */
export function hostName(): string {
  return Deno.env.get("BACKY2_HOSTNAME") || Deno.hostname();
}

export function openLocks(config: Config, command: string, onLost: (why: string) => void): LockManager {
  if (config.meta.sqlitePath !== null) return fileLocks(config.defaults.lockDir);
  const identity: LeaseIdentity = { host: hostName(), pid: Deno.pid, command };
  return new LockManager(lazyBackend(async () => {
    const { LeaseBackend } = await import("./lease_locks.ts");
    const { parsePgUrl } = await import("../catalog/postgres/url.ts");
    return new LeaseBackend(parsePgUrl(config.meta.engine), identity, config.meta.leaseSeconds, onLost);
  }));
}

/** A backend made on first use (nothing is loaded or connected for a command that takes no lock). */
function lazyBackend(make: () => Promise<LockBackend>): LockBackend {
  let made: Promise<LockBackend> | null = null;
  const backend = () => made ??= make();
  return {
    take: async (name, mode) => (await backend()).take(name, mode),
    change: async (name, from, to) => (await backend()).change(name, from, to),
    release: async (name, mode) => (await backend()).release(name, mode),
    holders: async (name) => (await backend()).holders(name),
    list: async () => (await backend()).list(),
    close: async () => {
      if (made) await (await made).close();
    },
  };
}
