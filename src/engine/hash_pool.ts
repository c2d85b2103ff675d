/**
 * A pool of `node:crypto` hash workers (hash_worker.ts), one per core: the fallback {@link Hasher} where
 * OpenSSL cannot be loaded. Buffers are transferred to a worker and back, never copied.
 */
import { type HashJob, type HashResult, hashWorkerUrl } from "./hash_worker.ts";
import type { Hashed, Hasher } from "./hasher.ts";

export class HashPool implements Hasher {
  private readonly workers: Worker[] = [];
  private readonly pending = new Map<number, { resolve: (r: Hashed) => void; reject: (e: Error) => void }>();
  private nextJob = 0;

  constructor(readonly algorithm: string, size = navigator.hardwareConcurrency || 2) {
    const url = hashWorkerUrl();
    for (let i = 0; i < size; i++) {
      const worker = new Worker(url, { type: "module" });
      worker.onmessage = (event: MessageEvent<HashResult>) => this.settle(event.data);
      worker.onerror = (event) => {
        event.preventDefault();
        this.failAll(new Error(`hash worker failed: ${event.message}`));
      };
      this.workers.push(worker);
    }
  }

  get parallelism(): number {
    return this.workers.length;
  }

  /** Hashes `buffer[0, length)`; the buffer is transferred away until the promise resolves. */
  hash(buffer: ArrayBuffer, length: number): Promise<Hashed> {
    const job = this.nextJob++;
    const message: HashJob = { job, buffer, length, algorithm: this.algorithm };
    return new Promise((resolve, reject) => {
      this.pending.set(job, { resolve, reject });
      this.workers[job % this.workers.length].postMessage(message, [buffer]);
    });
  }

  private settle(result: HashResult): void {
    const waiter = this.pending.get(result.job);
    if (!waiter) return;
    this.pending.delete(result.job);
    if (result.error) waiter.reject(new Error(result.error));
    else waiter.resolve({ buffer: result.buffer, checksum: result.checksum, zero: result.zero });
  }

  private failAll(error: Error): void {
    for (const waiter of this.pending.values()) waiter.reject(error);
    this.pending.clear();
  }

  close(): void {
    for (const worker of this.workers) worker.terminate();
    this.workers.length = 0;
  }
}
