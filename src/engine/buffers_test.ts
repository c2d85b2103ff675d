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

Deno.test("BufferPool buffers are page-aligned; after release the pool takes nothing and gives back what returns", async () => {
  const pool = new BufferPool(8192, 2);
  const [a, b] = [await pool.take(), await pool.take()];
  for (const buffer of [a, b]) {
    assert.equal(BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(buffer))) % 4096n, 0n);
  }
  pool.give(a);
  pool.release();
  assert.throws(() => pool.take(), /after release/);
  pool.give(b);
  const next = new BufferPool(8192, 2);
  const reused = new Set([await next.take(), await next.take()]);
  assert.deepEqual(reused, new Set([a, b]));
});
