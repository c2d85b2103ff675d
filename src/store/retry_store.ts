/**
 * Retries for a block store that talks over a network, as a wrapper around it (in the spirit of restic's
 * backend/retry). The backend says what is worth retrying by throwing a {@link TransientError} (a connection
 * refused or reset, a timeout, a 5xx or 429 answer, a body cut short); every other error passes through at
 * once. Retries wait a capped, jittered, exponentially growing time and stop at a deadline; each one is
 * logged as a WARNING with its reason, and the final failure names the operation, the blob and the last
 * error. Every operation of the store is retried whole, which is safe because each one is idempotent: a
 * blob is written under a new uid with the same bytes, removing a missing blob is not an error, and a
 * listing resumes after the last blob it yielded.
 */
import type { BlockStore, Encoding, MetaKind, StoredBlob, StoredMeta, Written } from "./block_store.ts";
import { StoreWrapper } from "./store_wrapper.ts";
import { BackyError } from "../util/errors.ts";

/** A failure that may go away if the operation is tried again; the message says what happened. */
export class TransientError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "TransientError";
  }
}

export interface RetryPolicy {
  /** Seconds after an operation's first failure (or its last progress) after which it is not tried again. */
  deadlineSeconds: number;
  /** The first wait, in seconds; it doubles with every failure up to {@link maxDelaySeconds}. */
  initialDelaySeconds?: number;
  maxDelaySeconds?: number;
  /** For tests: the source of jitter (default Math.random) and of waiting. */
  random?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

/** Where warnings go (the command's logger). */
export interface RetryLog {
  warning(message: string): void;
}

/** How far one operation has got: when it started (or last made progress) and how many attempts it made. */
class Attempts {
  started = performance.now();
  count = 1;

  progressed(): void {
    this.started = performance.now();
    this.count = 1;
  }
}

/** Runs operations under a {@link RetryPolicy}. */
export class Retrier {
  private readonly initialDelay: number;
  private readonly maxDelay: number;
  private readonly random: () => number;
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(private readonly policy: RetryPolicy, private readonly log: RetryLog) {
    this.initialDelay = policy.initialDelaySeconds ?? 0.2;
    this.maxDelay = policy.maxDelaySeconds ?? 20;
    this.random = policy.random ?? Math.random;
    this.sleep = policy.sleep ?? ((ms) => new Promise((done) => setTimeout(done, ms)));
  }

  /** `attempt()` until it succeeds, fails for good, or the deadline has passed. */
  async run<T>(operation: string, attempt: () => Promise<T>): Promise<T> {
    const attempts = new Attempts();
    for (;;) {
      try {
        return await attempt();
      } catch (error) {
        await this.failed(error, operation, attempts);
      }
    }
  }

  /**
   * Handles one failed attempt: rethrows a permanent error, throws the final error once the deadline has
   * passed, and otherwise logs the retry and waits before the next attempt.
   */
  async failed(error: unknown, operation: string, attempts: Attempts): Promise<void> {
    if (!(error instanceof TransientError)) throw error;
    const elapsed = (performance.now() - attempts.started) / 1000;
    const remaining = this.policy.deadlineSeconds - elapsed;
    if (remaining <= 0) {
      throw new BackyError(
        `Gave up on ${operation} after ${attempts.count} attempt${attempts.count === 1 ? "" : "s"} in ` +
          `${elapsed.toFixed(1)} s (retry_deadline ${this.policy.deadlineSeconds} s): ${error.message}`,
      );
    }
    const ceiling = Math.min(this.maxDelay, this.initialDelay * 2 ** (attempts.count - 1));
    const delay = Math.min(remaining, ceiling * (0.5 + this.random() / 2));
    attempts.count++;
    this.log.warning(
      `${capitalized(operation)} failed: ${error.message}; retrying in ${delay.toFixed(1)} s ` +
        `(attempt ${attempts.count}).`,
    );
    await this.sleep(delay * 1000);
  }

  /** A fresh attempt counter, for operations that drive the retries themselves (listings). */
  attempts(): Attempts {
    return new Attempts();
  }
}

function capitalized(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

export class RetryStore extends StoreWrapper {
  constructor(inner: BlockStore, private readonly retrier: Retrier) {
    super(inner);
  }

  override write(uid: string, data: Uint8Array): Promise<Written> {
    return this.retrier.run(`the write of blob ${uid}`, () => this.inner.write(uid, data));
  }
  override flush(): Promise<void> {
    return this.retrier.run("the flush of the block store", () => this.inner.flush());
  }
  override read(uid: string, encoding: Encoding, into?: ArrayBuffer): Promise<Uint8Array> {
    return this.retrier.run(`the read of blob ${uid}`, () => this.inner.read(uid, encoding, into));
  }
  override remove(uid: string): Promise<boolean> {
    return this.retrier.run(`the removal of blob ${uid}`, () => this.inner.remove(uid));
  }
  override removeMany(uids: string[]): Promise<string[]> {
    const what = uids.length === 1 ? `blob ${uids[0]}` : `${uids.length} blobs (${uids[0]} first)`;
    return this.retrier.run(`the removal of ${what}`, () => this.inner.removeMany(uids));
  }
  override removeUnfinished(prefix?: string): Promise<number> {
    return this.retrier.run("the removal of unfinished writes", () => this.inner.removeUnfinished(prefix));
  }
  override writeMeta(kind: MetaKind, name: string, data: Uint8Array): Promise<void> {
    return this.retrier.run(
      `the write of metadata object ${kind}/${name}`,
      () => this.inner.writeMeta(kind, name, data),
    );
  }
  override readMeta(kind: MetaKind, name: string): Promise<Uint8Array> {
    return this.retrier.run(`the read of metadata object ${kind}/${name}`, () => this.inner.readMeta(kind, name));
  }
  override listMeta(kind: MetaKind): Promise<StoredMeta[]> {
    return this.retrier.run(`the listing of metadata objects (${kind})`, () => this.inner.listMeta(kind));
  }
  override removeMeta(kind: MetaKind, name: string): Promise<boolean> {
    return this.retrier.run(`the removal of metadata object ${kind}/${name}`, () => this.inner.removeMeta(kind, name));
  }

  /** Resumes after the last blob it yielded when the listing fails; the deadline counts from the last progress. */
  override async *list(prefix?: string, startAfter?: string): AsyncIterable<StoredBlob> {
    let after = startAfter;
    const attempts = this.retrier.attempts();
    for (;;) {
      try {
        for await (const blob of this.inner.list(prefix, after)) {
          after = blob.uid;
          attempts.progressed();
          yield blob;
        }
        return;
      } catch (error) {
        const where = `${prefix ? ` with prefix ${prefix}` : ""}${after ? ` after ${after}` : ""}`;
        await this.retrier.failed(error, `the listing of blobs${where}`, attempts);
      }
    }
  }
}
