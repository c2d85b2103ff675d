/** Unit tests of the pipeline helpers: the buffer pool bound and the windowed loop's failure handling. */
import { assert, assertEquals, assertRejects } from "../output/test_assert.ts";
import { BufferPool, forEachInWindow } from "./buffers.ts";

const tick = (ms: number) => new Promise((done) => setTimeout(done, ms));

Deno.test("forEachInWindow keeps at most `window` items in flight and visits every item", async () => {
  let running = 0;
  let most = 0;
  const seen: number[] = [];
  await forEachInWindow([1, 2, 3, 4, 5, 6, 7], 3, async (item) => {
    most = Math.max(most, ++running);
    await tick(item % 3);
    seen.push(item);
    running--;
  });
  assertEquals([most, seen.sort()], [3, [1, 2, 3, 4, 5, 6, 7]]);
});

Deno.test("forEachInWindow lets the items in flight finish before it rethrows a failure", async () => {
  const finished: number[] = [];
  await assertRejects(
    () =>
      forEachInWindow([0, 1, 2, 3, 4], 4, async (item) => {
        if (item === 0) throw new Error("block 0 failed");
        await tick(20);
        finished.push(item);
      }),
    Error,
  );
  assert(finished.length >= 3, `items started before the failure finished first (${finished})`);
});

Deno.test("BufferPool hands out at most `count` buffers and passes returned ones to waiters", async () => {
  const pool = new BufferPool(16, 2);
  const [a, b] = [await pool.take(), await pool.take()];
  let third: ArrayBuffer | null = null;
  const waiting = pool.take().then((buffer) => third = buffer);
  await tick(1);
  assertEquals([third, pool.inUse], [null, 2]);
  pool.give(a);
  await waiting;
  assertEquals([third === a, pool.inUse], [true, 2]);
  pool.give(b);
});
