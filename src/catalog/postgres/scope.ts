/**
 * How the PostgreSQL roles reach the database: through the pool (each write its own transaction, run again
 * when PostgreSQL reports a serialization failure or a deadlock), or inside an open transaction.
 */
import { isRetryable, type Runner, type Sql } from "./connect.ts";

const RETRIES = 8;

export class PgScope {
  constructor(readonly sql: Runner, readonly inTransaction: boolean) {}

  /** Runs reads (one snapshot per statement; inside a transaction, its view). */
  read<T>(work: (sql: Runner) => Promise<T>): Promise<T> {
    return work(this.sql);
  }

  /**
   * Runs one statement that takes row locks: run again when PostgreSQL picked it as a deadlock's victim (inside
   * a transaction, the whole transaction is).
   */
  locking<T>(work: (sql: Runner) => Promise<T>): Promise<T> {
    if (this.inTransaction) return work(this.sql);
    return retrying(() => work(this.sql));
  }

  /** Runs work atomically: as its own transaction (retried when another got in the way), or inside the open one. */
  write<T>(work: (sql: Runner) => Promise<T>): Promise<T> {
    if (this.inTransaction) return work(this.sql);
    return retrying(() => (this.sql as Sql).begin((tx) => work(tx)) as Promise<T>);
  }
}

/** Runs a transaction again (a few times, after a short random pause) when it failed on a conflict. */
export async function retrying<T>(transaction: () => Promise<T>): Promise<T> {
  for (let attempt = 1;; attempt++) {
    try {
      return await transaction();
    } catch (error) {
      if (!isRetryable(error) || attempt >= RETRIES) throw error;
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 20 * attempt));
    }
  }
}

/**
 * A parameter for `$N::jsonb` read by `jsonb_to_recordset`: rows with nullable fields in one round trip (the
 * client serializes it, knowing the parameter's type from the prepared statement).
 */
export function jsonRows(rows: unknown[]): unknown {
  return rows;
}

/** Splits `items` into chunks of at most `size`. */
export function* chunks<T>(items: T[], size: number): Generator<T[]> {
  for (let start = 0; start < items.length; start += size) yield items.slice(start, start + size);
}
