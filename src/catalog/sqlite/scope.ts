/**
 * How the SQLite roles reach the database: one connection with its prepared statements, and a scope that is
 * either the catalog itself (each write its own transaction) or an open transaction of
 * {@link SqliteConnection.transaction} (every call joins it).
 *
 * A transaction that awaits (hashing an imported block map, a backup's checkpoint) keeps SQLite's one
 * connection inside BEGIN ... COMMIT across its waits; calls on the catalog itself wait until it ends, so
 * that nothing else lands in it by accident.
 */
import type { DatabaseSync, StatementSync } from "node:sqlite";
import { catalogWriteError, rollbackQuietly } from "./open.ts";

export class SqliteConnection {
  private readonly statements = new Map<string, StatementSync>();
  /** Settles when the open awaiting transaction ends; null while none is open. */
  private open: Promise<void> | null = null;

  constructor(readonly db: DatabaseSync, readonly path: string) {}

  stmt(sql: string): StatementSync {
    let statement = this.statements.get(sql);
    if (!statement) {
      statement = this.db.prepare(sql);
      this.statements.set(sql, statement);
    }
    return statement;
  }

  /**
   * Settles when the open awaiting transaction ends; null while none is open. Callers check it again right
   * before their synchronous work: `while (conn.busy) await conn.busy;`.
   */
  get busy(): Promise<void> | null {
    return this.open;
  }

  /** Runs synchronous `work` as one transaction; a failure of the catalog's file or disk says so. */
  transactionSync<T>(work: () => T, durable = false): T {
    // The callers delete files right after such a commit: it must survive a power loss (WAL with
    // synchronous=NORMAL may lose the last commits), or references to deleted blobs would come back.
    if (durable) this.db.exec("PRAGMA synchronous = FULL");
    try {
      this.db.exec("BEGIN IMMEDIATE");
      const result = work();
      this.db.exec("COMMIT");
      return result;
    } catch (error) {
      rollbackQuietly(this.db);
      throw catalogWriteError(this.path, error);
    } finally {
      if (durable) this.db.exec("PRAGMA synchronous = NORMAL");
    }
  }

  /** Runs `work` as one transaction that may await; calls on the catalog itself wait until it ends. */
  async transaction<T>(work: () => Promise<T>): Promise<T> {
    while (this.open) await this.open;
    let end!: () => void;
    this.open = new Promise((resolve) => end = resolve);
    try {
      this.db.exec("BEGIN IMMEDIATE");
      const result = await work();
      this.db.exec("COMMIT");
      return result;
    } catch (error) {
      rollbackQuietly(this.db);
      throw catalogWriteError(this.path, error);
    } finally {
      this.open = null;
      end();
    }
  }

  close(): void {
    this.statements.clear();
    this.db.close();
  }
}

/** Where a role's calls run: on the catalog itself, or inside an open transaction. */
export class SqliteScope {
  constructor(readonly conn: SqliteConnection, readonly inTransaction: boolean) {}

  /** Runs a read. */
  async read<T>(work: (conn: SqliteConnection) => T): Promise<T> {
    if (!this.inTransaction) { while (this.conn.busy) await this.conn.busy; }
    return work(this.conn);
  }

  /** Runs writes atomically: as their own transaction, or as part of the open one. */
  async write<T>(work: (conn: SqliteConnection) => T, options: { durable?: boolean } = {}): Promise<T> {
    if (this.inTransaction) return work(this.conn);
    while (this.conn.busy) await this.conn.busy;
    return this.conn.transactionSync(() => work(this.conn), options.durable);
  }

  /** {@link write} for work that awaits between its statements. */
  writeAwaiting<T>(work: (conn: SqliteConnection) => Promise<T>): Promise<T> {
    if (this.inTransaction) return work(this.conn);
    return this.conn.transaction(() => work(this.conn));
  }
}
