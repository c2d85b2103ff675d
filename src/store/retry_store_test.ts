/**
 * Unit tests of the retry wrapper around a memory store that fails on command: transient failures are
 * retried with growing, capped waits and logged, permanent ones are not, the deadline ends the retries with
 * an error naming the operation, the blob and the last failure, and a listing resumes where it failed.
 */
import assert from "node:assert/strict";
import { BlobNotFoundError, type Encoding, PLAIN, type StoredBlob, type Written } from "./block_store.ts";
import { MemoryStore } from "./memory_store.ts";
import { StoreWrapper } from "./store_wrapper.ts";
import { Retrier, RetryStore, TransientError } from "./retry_store.ts";
import { BackyError } from "../util/errors.ts";

/** A memory store whose next calls fail with the queued errors. */
class FailingStore extends StoreWrapper {
  readonly failures: Error[] = [];
  calls = 0;
  /** Fail a listing after this many blobs (once). */
  listFailsAfter = -1;

  constructor() {
    super(new MemoryStore());
  }

  private next(): void {
    this.calls++;
    const failure = this.failures.shift();
    if (failure) throw failure;
  }

  override async write(uid: string, data: Uint8Array): Promise<Written> {
    this.next();
    return await this.inner.write(uid, data);
  }

  override async read(uid: string, encoding: Encoding, into?: ArrayBuffer): Promise<Uint8Array> {
    this.next();
    return await this.inner.read(uid, encoding, into);
  }

  override async removeMany(uids: string[]): Promise<string[]> {
    this.next();
    return await this.inner.removeMany(uids);
  }

  override async *list(prefix?: string, startAfter?: string): AsyncIterable<StoredBlob> {
    this.next();
    let n = 0;
    for await (const blob of this.inner.list(prefix, startAfter)) {
      if (n++ === this.listFailsAfter) {
        this.listFailsAfter = -1;
        throw new TransientError("connection reset while listing");
      }
      yield blob;
    }
  }
}

interface Harness {
  inner: FailingStore;
  store: RetryStore;
  warnings: string[];
  sleeps: number[];
}

/** A retry store whose waits are recorded instead of slept; `clock` advances by each wait. */
function harness(deadlineSeconds = 60): Harness {
  const inner = new FailingStore();
  const warnings: string[] = [];
  const sleeps: number[] = [];
  const retrier = new Retrier(
    {
      deadlineSeconds,
      initialDelaySeconds: 0.001,
      maxDelaySeconds: 0.004,
      random: () => 1,
      sleep: (ms) => {
        sleeps.push(ms);
        return new Promise((done) => setTimeout(done, ms));
      },
    },
    { warning: (message) => warnings.push(message) },
  );
  return { inner, store: new RetryStore(inner, retrier), warnings, sleeps };
}

const UID = "0123456789abcdefghijklmnopqrstuv";

Deno.test("RetryStore retries transient failures with growing, capped waits and logs each retry", async () => {
  const { inner, store, warnings, sleeps } = harness();
  inner.failures.push(...[1, 2, 3, 4].map((n) => new TransientError(`HTTP 503 SlowDown #${n}`)));
  await store.write(UID, new Uint8Array([1, 2, 3]));
  assert.equal(inner.calls, 5);
  assert.deepEqual(sleeps, [1, 2, 4, 4]);
  assert.equal(warnings.length, 4);
  assert.equal(
    warnings[0],
    `The write of blob ${UID} failed: HTTP 503 SlowDown #1; retrying in 0.0 s (attempt 2).`,
  );
  assert.deepEqual(await store.read(UID, PLAIN), new Uint8Array([1, 2, 3]));
});

Deno.test("RetryStore does not retry permanent failures", async () => {
  const { inner, store, warnings } = harness();
  inner.failures.push(new BackyError("S3 GET b/k: HTTP 403 AccessDenied"));
  await assert.rejects(store.read(UID, PLAIN), /403 AccessDenied/);
  assert.equal(inner.calls, 1);
  await assert.rejects(store.read(UID, PLAIN), BlobNotFoundError);
  assert.equal(inner.calls, 2);
  assert.deepEqual(warnings, []);
});

Deno.test("RetryStore gives up at the deadline, naming the operation, the blob and the last error", async () => {
  const { inner, store, warnings } = harness(0.05);
  for (let i = 0; i < 1000; i++) inner.failures.push(new TransientError(`connection refused #${i}`));
  const started = performance.now();
  const error = await store.write(UID, new Uint8Array(1)).then(() => null, (e) => e);
  const seconds = (performance.now() - started) / 1000;
  assert.ok(error instanceof BackyError, `got ${error}`);
  assert.match(
    error.message,
    new RegExp(
      `^Gave up on the write of blob ${UID} after (\\d+) attempts in 0\\.\\d s \\(retry_deadline 0\\.05 s\\): ` +
        `connection refused #\\d+$`,
    ),
  );
  const attempts = Number(/after (\d+) attempts/.exec(error.message)![1]);
  assert.equal(attempts, inner.calls);
  assert.equal(warnings.length, attempts - 1);
  assert.ok(seconds < 1, `took ${seconds} s`);
});

Deno.test("RetryStore resumes a failed listing after the last blob it yielded", async () => {
  const { inner, store, warnings } = harness();
  const uids = Array.from({ length: 10 }, (_, n) => `${n}`.padEnd(32, "x"));
  for (const uid of uids) await inner.write(uid, new Uint8Array(1));
  inner.calls = 0;
  inner.listFailsAfter = 4;
  inner.failures.push(new TransientError("timeout"));
  const seen: string[] = [];
  for await (const blob of store.list()) seen.push(blob.uid);
  assert.deepEqual(seen, uids);
  assert.equal(inner.calls, 3, "one failed start, one listing cut after 4 blobs, one resumed listing");
  assert.equal(warnings.length, 2);
  assert.match(warnings[1], new RegExp(`^The listing of blobs after ${uids[3]} failed: connection reset`));
});

Deno.test("RetryStore retries a batch removal whole", async () => {
  const { inner, store } = harness();
  const uids = ["a", "b", "c"].map((c) => c.padEnd(32, "0"));
  for (const uid of uids) await inner.write(uid, new Uint8Array(1));
  inner.failures.push(new TransientError("HTTP 500 InternalError"));
  assert.deepEqual(await store.removeMany(uids), []);
  assert.equal((await Array.fromAsync(store.list())).length, 0);
});
