/** The node:crypto worker pool (the fallback hasher), whose workers run from an embedded data: URL. */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { HashPool } from "./hash_pool.ts";

function block(length: number, seed: number): ArrayBuffer {
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) bytes[i] = (i * 31 + seed) & 0xff;
  return bytes.buffer;
}

Deno.test("hash pool: digests like node:crypto, flags zero blocks and hands every buffer back", async () => {
  const pool = new HashPool("sha512", 2);
  try {
    assert.equal(pool.parallelism, 2);
    const inputs = [block(4096, 1), block(4096, 2), new ArrayBuffer(4096), block(4096, 3)];
    const expected = inputs.map((b) => new Uint8Array(b.slice(0, 3000)));
    const results = await Promise.all(inputs.map((b) => pool.hash(b, 3000)));
    results.forEach((result, i) => {
      assert.deepEqual(new Uint8Array(result.buffer.slice(0, 3000)), expected[i]);
      if (i === 2) {
        assert.equal(result.zero, true);
        assert.equal(result.checksum, null);
      } else {
        assert.equal(result.zero, false);
        assert.equal(result.checksum, createHash("sha512").update(expected[i]).digest("hex"));
      }
    });
  } finally {
    pool.close();
  }
});

Deno.test("hash pool: an unknown algorithm rejects the job", async () => {
  const pool = new HashPool("no-such-digest", 1);
  try {
    await assert.rejects(pool.hash(block(64, 0), 64), /digest/i);
  } finally {
    pool.close();
  }
});
