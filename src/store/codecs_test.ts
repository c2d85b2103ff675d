/**
 * Unit tests of the codec registry's rules: which codec new blobs get, and which existing blobs a backup may
 * deduplicate onto.
 */
import assert from "node:assert/strict";
import { codecById, codecFor, dedupCodecs, knownCodecs, PLAIN_CODEC, V1_CODEC, ZSTD_CODEC } from "./codecs.ts";

Deno.test("new blobs get encryption version 1 when it is configured, else the configured compression", () => {
  assert.equal(codecFor(1, "zstd"), V1_CODEC);
  assert.equal(codecFor(1, "none"), V1_CODEC);
  assert.equal(codecFor(0, "zstd"), ZSTD_CODEC);
  assert.equal(codecFor(0, "none"), PLAIN_CODEC);
});

Deno.test("deduplication: any codec, its own first; never unencrypted for an encrypting store; no v1 without key", () => {
  assert.deepEqual(dedupCodecs(ZSTD_CODEC, true), [ZSTD_CODEC, PLAIN_CODEC, V1_CODEC]);
  assert.deepEqual(dedupCodecs(PLAIN_CODEC, true), [PLAIN_CODEC, V1_CODEC, ZSTD_CODEC]);
  assert.deepEqual(dedupCodecs(ZSTD_CODEC, false), [ZSTD_CODEC, PLAIN_CODEC]);
  assert.deepEqual(dedupCodecs(V1_CODEC, true), [V1_CODEC]);
});

Deno.test("the registry knows 0, 1 and 2, and which of them backy2 2.13.8 reads", () => {
  assert.equal(knownCodecs(), "0 (plain), 1 (encryption version 1), 2 (zstd)");
  assert.deepEqual([0, 1, 2].map((id) => codecById(id)?.backy2Reads), [true, true, false]);
  assert.deepEqual([0, 1, 2].map((id) => codecById(id)?.encrypts), [false, true, false]);
  assert.equal(codecById(7), undefined);
});
