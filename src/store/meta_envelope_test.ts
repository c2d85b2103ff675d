/**
 * Unit tests of metadata objects through the codec layer: zstd without encryption, encryption version 1 with
 * it (no plain text in the store), and the errors for a missing key, a wrong key, a truncated or tampered
 * object, an unknown envelope version and bytes that are no envelope at all.
 */
import assert from "node:assert/strict";
import { CodecStore } from "./codec_store.ts";
import { PLAIN_CODEC, V1_CODEC, ZSTD_CODEC } from "./codecs.ts";
import { MemoryStore } from "./memory_store.ts";
import { MetaNotFoundError } from "./block_store.ts";
import { MetaDamagedError } from "./meta_envelope.ts";
import { WrongKeyError } from "./codec_store.ts";
import { BackyError } from "../util/errors.ts";

const KEY = new Uint8Array(32).fill(7);
const OTHER_KEY = new Uint8Array(32).fill(9);
const NAME = "0f3c5a2e-1b2d-11ef-8000-0242ac120002";

function codecStore(raw: MemoryStore, codec: number, key: Uint8Array | null = KEY): CodecStore {
  return new CodecStore(raw, { codec, level: 3, key, maxBlobSize: 4096 });
}

/** Compressible text with a marker to look for in the stored bytes. */
function object(size = 200000): Uint8Array {
  return new TextEncoder().encode("SECRET-NAME ".repeat(size / 12));
}

function contains(haystack: Uint8Array, needle: string): boolean {
  return new TextDecoder("latin1").decode(haystack).includes(needle);
}

Deno.test("meta objects: without encryption they are zstd-compressed and read back", async () => {
  for (const codec of [PLAIN_CODEC, ZSTD_CODEC]) {
    const raw = new MemoryStore();
    const store = codecStore(raw, codec, null);
    await store.writeMeta("versions", NAME, object());
    const stored = await raw.readMeta("versions", NAME);
    assert.ok(stored.length < object().length / 10, `stored ${stored.length} bytes`);
    assert.deepEqual(await store.readMeta("versions", NAME), object());
    assert.deepEqual((await store.listMeta("versions")).map((meta) => meta.name), [NAME]);
  }
});

Deno.test("meta objects: with encryption the store holds no plain text, and only the key reads them", async () => {
  const raw = new MemoryStore();
  await codecStore(raw, V1_CODEC).writeMeta("versions", NAME, object());
  assert.ok(!contains(await raw.readMeta("versions", NAME), "SECRET-NAME"));
  assert.deepEqual(await codecStore(raw, V1_CODEC).readMeta("versions", NAME), object());
  // A store configured without encryption but with the key still reads it: the envelope names the codec.
  assert.deepEqual(await codecStore(raw, ZSTD_CODEC).readMeta("versions", NAME), object());
  await assert.rejects(codecStore(raw, V1_CODEC, OTHER_KEY).readMeta("versions", NAME), WrongKeyError);
  await assert.rejects(
    codecStore(raw, PLAIN_CODEC, null).readMeta("versions", NAME),
    (error: Error) => error instanceof BackyError && /is encrypted/.test(error.message),
  );
});

Deno.test("meta objects: a truncated, foreign or (encrypted) tampered object is a MetaDamagedError naming it", async () => {
  for (const codec of [ZSTD_CODEC, V1_CODEC]) {
    const raw = new MemoryStore();
    const store = codecStore(raw, codec);
    await store.writeMeta("versions", NAME, object());
    const good = await raw.readMeta("versions", NAME);
    const variants: [string, Uint8Array][] = [
      ["truncated", good.subarray(0, good.length - 7)],
      ["cut inside the header", good.subarray(0, 10)],
      // zstd has no checksum of its own here: the object's SHA-256 catches that (src/meta/format_test.ts).
      ...(codec === V1_CODEC
        ? [["tampered", good.map((byte, i) => i === good.length - 20 ? byte ^ 1 : byte)] as [string, Uint8Array]]
        : []),
      ["unknown envelope version", good.map((byte, i) => i === 8 ? 99 : byte)],
      ["foreign", new TextEncoder().encode("just some file")],
    ];
    for (const [what, bytes] of variants) {
      await raw.writeMeta("versions", NAME, bytes);
      const error = await store.readMeta("versions", NAME).then(() => null, (e) => e);
      assert.ok(error instanceof MetaDamagedError, `${what} (codec ${codec}): got ${error}`);
      assert.match(error.message, new RegExp(`Metadata object versions/${NAME}`));
    }
  }
});

Deno.test("meta objects: a missing one is a MetaNotFoundError", async () => {
  await assert.rejects(codecStore(new MemoryStore(), ZSTD_CODEC).readMeta("versions", NAME), MetaNotFoundError);
});
