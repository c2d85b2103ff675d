/**
 * Unit tests of the metadata object format: round trips of every field (nulls, text and hex, tags, block dates,
 * unrecorded blocks, a short last page), determinism, the size of a 1 TiB version's object, and the named
 * errors for a tampered or truncated object, an unknown format version, foreign bytes and a block map that
 * names blobs the object does not list.
 */
import assert from "node:assert/strict";
import {
  decodeMeta,
  encodeMeta,
  META_FORMAT_VERSION,
  type MetaBlob,
  MetaFormatError,
  type VersionMeta,
} from "./format.ts";

function blob(n: number, overrides: Partial<MetaBlob> = {}): MetaBlob {
  return {
    uid: `blob${n}`.padEnd(32, "x"),
    checksum: n.toString(16).padStart(128, "0"),
    size: 4096,
    valid: true,
    encVersion: 0,
    encEnvkey: null,
    encNonce: null,
    storedSize: 4096,
    ...overrides,
  };
}

function sample(blocks = 2500): VersionMeta {
  const blobs = [
    blob(1),
    { ...blob(0), uid: null, checksum: null, storedSize: null },
    blob(2, { encVersion: 1, encEnvkey: "ab".repeat(40), encNonce: "cd".repeat(16), storedSize: 1234, valid: false }),
    blob(3, { checksum: "NOT-HEX-Ünïcode", size: 100, encVersion: 2, storedSize: null }),
  ];
  const map = new Uint32Array(blocks);
  for (let i = 0; i < blocks; i++) map[i] = i % 7 === 0 ? 2 : i % 11 === 0 ? 0 : (i % 3) + 1;
  map[blocks - 1] = 4;
  return {
    version: {
      uid: "0f3c5a2e-1b2d-11ef-8000-0242ac120002",
      date: "2024-05-01 10:11:12.123456",
      expire: null,
      name: "web/01 ünï",
      snapshotName: "",
      size: blocks,
      sizeBytes: (blocks - 1) * 4096 + 100,
      valid: true,
      protected: false,
      tags: ["a", "b c"],
      blockSize: 4096,
      hashFunction: "sha512",
    },
    blobs,
    map,
    blockDates: [...new Set([Math.min(3, blocks - 1), blocks - 1])].map((
      id,
      i,
    ) => [id, `2024-04-2${i} 00:00:00.00000${i}`]),
  };
}

Deno.test("meta format: every field survives a round trip", async () => {
  for (const meta of [sample(), sample(1), sample(1024), sample(2048)]) {
    assert.deepEqual(decodeMeta(await encodeMeta(meta)), meta);
  }
  const other = sample();
  other.version = { ...other.version, expire: "2030-01-01 00:00:00", protected: true, tags: [], blockSize: null };
  other.version.hashFunction = null;
  other.blockDates = [];
  assert.deepEqual(decodeMeta(await encodeMeta(other)), other);
  const empty: VersionMeta = { ...sample(), map: new Uint32Array(0), blobs: [], blockDates: [] };
  empty.version = { ...empty.version, size: 0, sizeBytes: 0 };
  assert.deepEqual(decodeMeta(await encodeMeta(empty)), empty);
});

Deno.test("meta format: the same version always gives the same bytes", async () => {
  assert.deepEqual(await encodeMeta(sample()), await encodeMeta(sample()));
});

Deno.test("meta format: a 1 TiB version of distinct blobs stays compact, and unchanged pages are stored once", async () => {
  const blocks = 262144;
  const blobs = Array.from({ length: blocks }, (_, i) => blob(i));
  const map = Uint32Array.from({ length: blocks }, (_, i) => i + 1);
  const meta: VersionMeta = { ...sample(), blobs, map, blockDates: [] };
  meta.version = { ...meta.version, size: blocks, sizeBytes: blocks * 4194304, blockSize: 4194304 };
  const started = performance.now();
  const bytes = await encodeMeta(meta);
  const decoded = decodeMeta(bytes);
  const seconds = (performance.now() - started) / 1000;
  assert.deepEqual(decoded.map, map);
  assert.ok(bytes.length < blocks * 130, `${bytes.length} bytes`);
  assert.ok(seconds < 10, `${seconds} s`);
  const sparse: VersionMeta = { ...meta, blobs: [blob(1)], map: new Uint32Array(blocks).fill(1) };
  assert.ok((await encodeMeta(sparse)).length < 8000);
});

Deno.test("meta format: a changed or missing byte anywhere is an integrity failure", async () => {
  const bytes = await encodeMeta(sample());
  for (const at of [12, 40, bytes.length >> 1, bytes.length - 40, bytes.length - 1]) {
    const tampered = bytes.slice();
    tampered[at] ^= 0x20;
    assert.throws(
      () => decodeMeta(tampered),
      (error: Error) => error instanceof MetaFormatError && /integrity/.test(error.message),
    );
  }
  for (const length of [bytes.length - 1, bytes.length >> 1, 20]) {
    assert.throws(() => decodeMeta(bytes.subarray(0, length)), /integrity check failed/);
  }
});

Deno.test("meta format: an unknown format version and foreign bytes are refused by name", async () => {
  const bytes = await encodeMeta(sample());
  const future = bytes.slice();
  future[8] = META_FORMAT_VERSION + 1;
  assert.throws(() => decodeMeta(future), /format version 2, which this backy2 does not know/);
  assert.throws(() => decodeMeta(new TextEncoder().encode("hello, world")), /not a version's metadata/);
  assert.throws(() => decodeMeta(new Uint8Array(0)), MetaFormatError);
});

Deno.test("meta format: a well-sealed object whose map names a blob it does not list is refused", async () => {
  const meta = sample();
  meta.map[5] = meta.blobs.length + 1;
  await assert.rejects(async () => decodeMeta(await encodeMeta(meta)), /names a blob it does not list/);
});
