/**
 * Unit tests of encryption version 1: RFC 3394 test vectors, round trips, the blob layout, real blobs the
 * Python backy2 2.13.8 wrote (fixture versions 7–9) and how a wrong key or a damaged blob is refused.
 */
import { createDecipheriv, createHash } from "node:crypto";
import { DatabaseSync } from "node:sqlite";
import { zstdDecompressSync } from "node:zlib";
import { Buffer } from "node:buffer";
import assert from "node:assert/strict";
import {
  BlobDecodeError,
  decodeV1,
  encodeV1,
  fromHex,
  integrityValue,
  KeyUnwrapError,
  rewrapEnvkey,
  toHex,
  unwrapKey,
  wrapKey,
} from "./crypto_v1.ts";
import { fixtureDir } from "../../tests/fixture_path.ts";

const FIXTURE_KEY = "3ddd95ed478d194478e27a27a7c4eed19430363e827e1702fc181258cd2e088d";
const KEK_256 = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

function hex(text: string): Uint8Array {
  return fromHex(text, text.length / 2)!;
}

function sha512(data: Uint8Array): string {
  return createHash("sha512").update(data).digest("hex");
}

function randomKey(): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(32));
}

Deno.test("AES key wrap matches RFC 3394 §4.6 (256-bit key data, 256-bit KEK) and §4.3 (128-bit key data)", () => {
  const vectors = [
    [
      "00112233445566778899aabbccddeeff000102030405060708090a0b0c0d0e0f",
      "28c9f404c4b810f4cbccb35cfb87f8263f5786e2d80ed326cbc7f0e71a99f43bfb988b9b7a02dd21",
    ],
    ["00112233445566778899aabbccddeeff", "64e8c3f9ce0f5ba263e9777905818a2a93c8191e7d6e8ae7"],
  ];
  for (const [plain, wrapped] of vectors) {
    assert.deepEqual(toHex(wrapKey(hex(KEK_256), hex(plain))), wrapped);
    assert.deepEqual(toHex(unwrapKey(hex(KEK_256), hex(wrapped))), plain);
    assert.equal(integrityValue(hex(KEK_256), hex(wrapped)), 0xa6a6a6a6a6a6a6a6n);
  }
});

Deno.test("unwrapping with the wrong key fails with the reference's integrity message", () => {
  const wrapped = hex("28c9f404c4b810f4cbccb35cfb87f8263f5786e2d80ed326cbc7f0e71a99f43bfb988b9b7a02dd21");
  assert.throws(() => unwrapKey(randomKey(), wrapped), {
    name: "KeyUnwrapError",
    message: /^Integrity Check Failed: 0x[0-9a-f]{1,16} \(expected 0xa6a6a6a6a6a6a6a6\)$/,
  });
});

function randomBlock(size: number): Uint8Array {
  const block = new Uint8Array(size);
  for (let i = 0; i < size; i += 65536) crypto.getRandomValues(block.subarray(i, Math.min(size, i + 65536)));
  return block;
}

/** Sizes on both sides of the switch between node:crypto and WebCrypto AES-GCM, compressible and not. */
const SAMPLES = [
  new Uint8Array(0),
  new Uint8Array(4096).fill(7),
  randomBlock(4096),
  randomBlock(16383),
  randomBlock(16384),
  randomBlock(1 << 20),
  new Uint8Array(1 << 20).fill(9),
];

Deno.test("encodeV1/decodeV1 round trip: layout tag ‖ nonce ‖ ciphertext", async () => {
  const key = randomKey();
  for (const plain of SAMPLES) {
    const encoded = await encodeV1(plain, key);
    assert.equal(encoded.envkey.length, 80);
    assert.equal(encoded.nonce.length, 32);
    assert.deepEqual(toHex(encoded.blob.subarray(16, 32)), encoded.nonce);
    assert.deepEqual(sha512(await decodeV1(encoded.blob, encoded.envkey, key)), sha512(plain), `${plain.length} bytes`);
  }
  const random = randomBlock(4096);
  // Random data does not compress: 32 bytes of tag and nonce plus a zstd frame with a raw block.
  assert.equal((await encodeV1(random, key)).blob.length, 4138);
  const nonces = new Set(await Promise.all([1, 2, 3].map(async () => (await encodeV1(random, key)).nonce)));
  assert.equal(nonces.size, 3, "every blob gets a fresh nonce");
});

/** The zstd frame inside a blob, decrypted here with node:crypto whatever encodeV1 used. */
function payloadOf(blob: Uint8Array, envkey: string, key: Uint8Array): Buffer {
  const decipher = createDecipheriv("aes-256-gcm", unwrapKey(key, hex(envkey)), blob.subarray(16, 32));
  decipher.setAuthTag(blob.subarray(0, 16));
  return Buffer.concat([decipher.update(blob.subarray(32)), decipher.final()]);
}

Deno.test("the payload is one AES-256-GCM-sealed zstd frame that records its content size", async () => {
  const key = randomKey();
  for (const plain of SAMPLES) {
    const { blob, envkey } = await encodeV1(plain, key);
    const frame = payloadOf(blob, envkey, key);
    assert.deepEqual([...frame.subarray(0, 4)], [0x28, 0xb5, 0x2f, 0xfd]);
    const descriptor = frame[4];
    assert.ok((descriptor >> 6) !== 0 || (descriptor & 0x20) !== 0, "the frame header records the content size");
    assert.deepEqual(zstdDecompressSync(frame).length, plain.length);
  }
});

Deno.test("a wrong master key is refused, never decoded to garbage", async () => {
  for (const size of [4096, 1 << 20]) {
    const encoded = await encodeV1(randomBlock(size), randomKey());
    await assert.rejects(decodeV1(encoded.blob, encoded.envkey, randomKey()), KeyUnwrapError);
    await assert.rejects(decodeV1(encoded.blob, null, randomKey()), KeyUnwrapError);
    await assert.rejects(decodeV1(encoded.blob, "abc", randomKey()), KeyUnwrapError);
  }
});

Deno.test("a damaged blob fails GCM authentication", async () => {
  const key = randomKey();
  for (const size of [4096, 1 << 20]) {
    const encoded = await encodeV1(randomBlock(size), key);
    for (const offset of [0, 20, 100, encoded.blob.length - 1]) {
      const damaged = encoded.blob.slice();
      damaged[offset] ^= 0x01;
      await assert.rejects(decodeV1(damaged, encoded.envkey, key), BlobDecodeError);
    }
    await assert.rejects(decodeV1(encoded.blob.subarray(0, 20), encoded.envkey, key), BlobDecodeError);
  }
});

Deno.test("rewrapping an envkey keeps the data key: the blob decodes under the new key only", async () => {
  const [oldKey, newKey] = [randomKey(), randomKey()];
  const plain = randomBlock(1000);
  const encoded = await encodeV1(plain, oldKey);
  const envkey = rewrapEnvkey(encoded.envkey, oldKey, newKey);
  assert.deepEqual([...await decodeV1(encoded.blob, envkey, newKey)], [...plain]);
  await assert.rejects(decodeV1(encoded.blob, envkey, oldKey), KeyUnwrapError);
  assert.throws(() => rewrapEnvkey(encoded.envkey, newKey, oldKey), KeyUnwrapError);
});

interface FixtureRow {
  uid: string;
  checksum: string;
  size: number;
  enc_envkey: string;
  enc_nonce: string;
}

/** The distinct encryption-1 blobs of the fixture catalog (read from a copy; the fixture stays untouched). */
function fixtureRows(): FixtureRow[] {
  const dir = Deno.makeTempDirSync({ prefix: "backy2-crypto-test-" });
  try {
    Deno.copyFileSync(`${fixtureDir()}/backy.sqlite`, `${dir}/backy.sqlite`);
    const db = new DatabaseSync(`${dir}/backy.sqlite`, { readOnly: true });
    const rows = db.prepare(
      "SELECT DISTINCT uid, checksum, size, enc_envkey, enc_nonce FROM blocks WHERE enc_version = 1 ORDER BY uid",
    ).all() as unknown as FixtureRow[];
    db.close();
    return rows;
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
}

function fixtureBlob(uid: string): Uint8Array {
  return Deno.readFileSync(`${fixtureDir()}/data/${uid.slice(0, 2)}/${uid.slice(2, 4)}/${uid}.blob`);
}

Deno.test("real backy2 2.13.8 encryption-1 blobs (fixture versions 7–9) decode to their catalog checksums", async () => {
  const rows = fixtureRows();
  assert.ok(rows.length >= 20, `expected the fixture's encryption-1 blobs, found ${rows.length}`);
  const key = hex(FIXTURE_KEY);
  for (const row of rows) {
    const blob = fixtureBlob(row.uid);
    assert.deepEqual(toHex(blob.subarray(16, 32)), row.enc_nonce, `nonce of ${row.uid}`);
    const plain = await decodeV1(blob, row.enc_envkey, key);
    assert.deepEqual(plain.length, row.size, `size of ${row.uid}`);
    assert.deepEqual(sha512(plain), row.checksum, `checksum of ${row.uid}`);
  }
  const first = rows[0];
  await assert.rejects(decodeV1(fixtureBlob(first.uid), first.enc_envkey, randomKey()), KeyUnwrapError);
});

Deno.test("blobs written here have the reference's size and frame header for the same block", async () => {
  const key = hex(FIXTURE_KEY);
  for (const row of fixtureRows().slice(0, 5)) {
    const reference = fixtureBlob(row.uid);
    const ours = await encodeV1(await decodeV1(reference, row.enc_envkey, key), key);
    assert.deepEqual(ours.blob.length, reference.length, `blob size for ${row.uid}`);
    const header = (frame: Buffer) => [...frame.subarray(0, 7)];
    assert.deepEqual(header(payloadOf(ours.blob, ours.envkey, key)), header(payloadOf(reference, row.enc_envkey, key)));
  }
});
