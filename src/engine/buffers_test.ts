/** Unit tests of the buffer pool: its bound, and returned buffers passed on to waiters. */
import assert from "node:assert/strict";
import { BufferPool } from "./buffers.ts";

const tick = (ms: number) => new Promise((done) => setTimeout(done, ms));

Deno.test("BufferPool hands out at most `count` buffers and passes returned ones to waiters", async () => {
  const pool = new BufferPool(16, 2);
  const [a, b] = [await pool.take(), await pool.take()];
  let third: ArrayBuffer | null = null;
  const waiting = pool.take().then((buffer) => third = buffer);
  await tick(1);
  assert.deepEqual([third, pool.inUse], [null, 2]);
  pool.give(a);
  await waiting;
  assert.deepEqual([third === a, pool.inUse], [true, 2]);
  pool.give(b);
});
