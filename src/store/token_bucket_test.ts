/** Unit tests of the bandwidth token bucket on a fake clock. */
import assert from "node:assert/strict";
import { TokenBucket } from "./token_bucket.ts";

Deno.test("a token bucket allows one second of burst, then paces to its rate", () => {
  let time = 0;
  const bucket = new TokenBucket(1000, () => time);
  assert.equal(bucket.reserve(1000), 0);
  assert.equal(bucket.reserve(500), 500);
  time = 500;
  assert.equal(bucket.reserve(500), 500);
  time = 5000;
  // Refilled, but never beyond one second's worth.
  assert.equal(bucket.reserve(1000), 0);
  assert.equal(bucket.reserve(1), 1);
});

Deno.test("100 KiB through a 200 KiB/s bucket that starts empty takes half a second of waits", () => {
  let time = 0;
  const bucket = new TokenBucket(204800, () => time);
  bucket.reserve(204800);
  let waited = 0;
  for (let i = 0; i < 10; i++) {
    const wait = bucket.reserve(10240);
    waited += wait;
    time += wait;
  }
  assert.equal(Math.round(waited), 500);
});
