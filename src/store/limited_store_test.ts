/** Unit test of the DataBackend parallelism limits: no more blob reads or writes in flight than configured. */
import assert from "node:assert/strict";
import { type Encoding, PLAIN, type Written, writtenPlain } from "./block_store.ts";
import { LimitedStore } from "./limited_store.ts";
import { NullStore } from "./null_store.ts";

/** A store whose calls take a few milliseconds and which records the most calls it saw at once. */
class SlowStore extends NullStore {
  running = 0;
  mostReads = 0;
  mostWrites = 0;

  override async write(_uid: string, data: Uint8Array): Promise<Written> {
    this.mostWrites = Math.max(this.mostWrites, ++this.running);
    await new Promise((done) => setTimeout(done, 3));
    this.running--;
    return writtenPlain(data.length);
  }

  override async read(_uid: string, _encoding: Encoding): Promise<Uint8Array> {
    this.mostReads = Math.max(this.mostReads, ++this.running);
    await new Promise((done) => setTimeout(done, 3));
    this.running--;
    return new Uint8Array(1);
  }
}

Deno.test("LimitedStore keeps at most simultaneous_reads reads and simultaneous_writes writes in flight", async () => {
  const inner = new SlowStore();
  const store = new LimitedStore(inner, 2, 3);
  await Promise.all(Array.from({ length: 12 }, (_, i) => store.read(`r${i}`, PLAIN)));
  await Promise.all(Array.from({ length: 12 }, (_, i) => store.write(`w${i}`, new Uint8Array(1))));
  assert.deepEqual([inner.mostReads, inner.mostWrites], [2, 3]);
});
