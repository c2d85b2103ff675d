/**
 * Locks shared by every backup host of a PostgreSQL catalog: advisory locks on one dedicated connection per
 * process, with a row in the `leases` table saying who holds what (host, pid, command, since) and a heartbeat.
 *
 * An advisory lock dies with its session, so a holder that exits, crashes or is killed frees its locks at
 * once (its connection closes). A holder that hangs with its connection open (a frozen or cut-off host) stops
 * its heartbeat; once the heartbeat is older than the lease time, the next process that wants one of its locks
 * ends the holder's session, which frees them. A process whose lock connection is closed under it has lost its
 * leases and must stop: `onLost` says so.
 *
 * The rows only describe; the advisory locks decide. Rows of sessions that are gone are ignored and removed.
 */
import { connectError, pgClient, run, type Runner, type Sql } from "../catalog/postgres/connect.ts";
import type { PgSettings } from "../catalog/postgres/url.ts";
import type { LockBackend, LockHolder, LockMode } from "./lock_manager.ts";

export interface LeaseIdentity {
  host: string;
  pid: number;
  command: string;
}

const UNDEFINED_TABLE = "42P01";

export class LeaseBackend implements LockBackend {
  private sql: Sql | null = null;
  private heartbeat: ReturnType<typeof setInterval> | null = null;
  private closing = false;

  constructor(
    private readonly settings: PgSettings,
    private readonly identity: LeaseIdentity,
    private readonly leaseSeconds: number,
    private readonly onLost: (why: string) => void,
  ) {}

  async take(name: string, mode: LockMode): Promise<boolean> {
    const sql = await this.connection();
    if (await this.tryLock(sql, name, mode)) {
      await this.record(sql, name, mode);
      return true;
    }
    // A holder whose heartbeat stopped keeps its session (and its locks) until someone ends it.
    if (!await this.endExpiredHolders(sql, name)) return false;
    if (!await this.tryLock(sql, name, mode)) return false;
    await this.record(sql, name, mode);
    return true;
  }

  async change(name: string, from: LockMode, to: LockMode): Promise<boolean> {
    const sql = await this.connection();
    // A session's own locks never conflict with each other: take the new mode, then drop the old one.
    if (!await this.tryLock(sql, name, to)) return false;
    await run(sql, `SELECT ${unlockFunction(from)}(hashtextextended($1, 0))`, [name]);
    await this.ignoringMissingTable(() =>
      run(sql, "UPDATE leases SET mode = $1 WHERE name = $2 AND backend_pid = pg_backend_pid()", [to, name])
    );
    return true;
  }

  async release(name: string, mode: LockMode): Promise<void> {
    if (!this.sql) return;
    await run(this.sql, `SELECT ${unlockFunction(mode)}(hashtextextended($1, 0))`, [name]);
    await this.ignoringMissingTable(() =>
      run(this.sql!, "DELETE FROM leases WHERE name = $1 AND backend_pid = pg_backend_pid()", [name])
    );
  }

  async holders(name: string): Promise<LockHolder[]> {
    return (await this.list()).filter((holder) => holder.name === name);
  }

  /** The leases of live sessions other than this process's (stale rows are removed on the way). */
  async list(): Promise<LockHolder[]> {
    const sql = await this.connection();
    return await this.ignoringMissingTable(async () => {
      await run(sql, "DELETE FROM leases WHERE backend_pid NOT IN (SELECT pid FROM pg_stat_activity)");
      const rows = await run<LeaseRow>(
        sql,
        "SELECT name, mode, host, pid, command, to_char(since AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') AS since, " +
          "to_char(heartbeat AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') AS heartbeat FROM leases " +
          'WHERE backend_pid <> pg_backend_pid() ORDER BY name COLLATE "C", since',
      );
      return rows.map((row) => ({ ...row, mode: row.mode as LockMode }));
    }, []);
  }

  async close(): Promise<void> {
    this.closing = true;
    if (this.heartbeat !== null) clearInterval(this.heartbeat);
    this.heartbeat = null;
    const sql = this.sql;
    this.sql = null;
    if (!sql) return;
    await this.ignoringMissingTable(() => run(sql, "DELETE FROM leases WHERE backend_pid = pg_backend_pid()"))
      .catch(() => {});
    await sql.end({ timeout: 5 });
  }

  private async connection(): Promise<Sql> {
    if (this.sql) return this.sql;
    const sql = pgClient(this.settings, { max: 1, onclose: () => this.lost() });
    this.sql = sql;
    try {
      await run(sql, "SELECT 1");
    } catch (error) {
      this.sql = null;
      this.closing = true;
      await sql.end({ timeout: 0 }).catch(() => {});
      throw connectError(this.settings, error);
    }
    const every = Math.max(500, (this.leaseSeconds * 1000) / 3);
    const heartbeat = setInterval(() => this.beat(), every);
    Deno.unrefTimer(heartbeat as unknown as number);
    this.heartbeat = heartbeat;
    return sql;
  }

  private beat(): void {
    if (!this.sql) return;
    this.ignoringMissingTable(() =>
      run(this.sql!, "UPDATE leases SET heartbeat = now() WHERE backend_pid = pg_backend_pid()")
    ).catch((error) => this.lost(`heartbeat failed: ${(error as Error).message}`));
  }

  private lost(why = "the lock connection closed"): void {
    if (this.closing) return;
    this.closing = true;
    this.onLost(why);
  }

  private async tryLock(sql: Runner, name: string, mode: LockMode): Promise<boolean> {
    const fn = mode === "exclusive" ? "pg_try_advisory_lock" : "pg_try_advisory_lock_shared";
    const [row] = await run<{ ok: boolean }>(sql, `SELECT ${fn}(hashtextextended($1, 0)) AS ok`, [name]);
    return row.ok;
  }

  private async record(sql: Runner, name: string, mode: LockMode): Promise<void> {
    const { host, pid, command } = this.identity;
    await this.ignoringMissingTable(() =>
      run(
        sql,
        "INSERT INTO leases (name, mode, host, pid, command, since, heartbeat, backend_pid) " +
          "VALUES ($1, $2, $3, $4, $5, now(), now(), pg_backend_pid()) " +
          "ON CONFLICT (name, host, pid) DO UPDATE SET mode = $2, since = now(), heartbeat = now(), " +
          "backend_pid = pg_backend_pid()",
        [name, mode, host, pid, command],
      )
    );
  }

  /**
   * Ends the sessions of the holders of `name` whose heartbeat is older than the lease time, and forgets the
   * rows of sessions that are gone; true when it ended or forgot any.
   */
  private async endExpiredHolders(sql: Runner, name: string): Promise<boolean> {
    return await this.ignoringMissingTable(async () => {
      const ended = await run<{ backend_pid: number }>(
        sql,
        "SELECT backend_pid, pg_terminate_backend(backend_pid) FROM leases WHERE name = $1 " +
          "AND backend_pid <> pg_backend_pid() AND heartbeat < now() - make_interval(secs => $2)",
        [name, this.leaseSeconds],
      );
      const gone = await run(
        sql,
        "DELETE FROM leases WHERE name = $1 AND (backend_pid NOT IN (SELECT pid FROM pg_stat_activity) " +
          "OR backend_pid = ANY($2::int[])) RETURNING 1",
        [name, ended.map((row) => row.backend_pid)],
      );
      // pg_terminate_backend only signals: wait (briefly) until the session is gone and its locks with it.
      for (let i = 0; i < 50 && ended.length > 0; i++) {
        const [{ alive }] = await run<{ alive: number }>(
          sql,
          "SELECT count(*)::int AS alive FROM pg_stat_activity WHERE pid = ANY($1::int[])",
          [ended.map((row) => row.backend_pid)],
        );
        if (alive === 0) break;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      return ended.length > 0 || gone.length > 0;
    }, false);
  }

  /** Runs `work`; before `initdb` made the lease table, the advisory locks alone do the locking. */
  private async ignoringMissingTable<T>(work: () => Promise<T>, fallback?: T): Promise<T> {
    try {
      return await work();
    } catch (error) {
      if ((error as { code?: string }).code === UNDEFINED_TABLE) return fallback as T;
      throw error;
    }
  }
}

interface LeaseRow {
  name: string;
  mode: string;
  host: string;
  pid: number;
  command: string;
  since: string;
  heartbeat: string;
}

function unlockFunction(mode: LockMode): string {
  return mode === "exclusive" ? "pg_advisory_unlock" : "pg_advisory_unlock_shared";
}
