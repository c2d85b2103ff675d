/**
 * Unit tests of the codec layer around a file store: reading the real backy2 fixture's plain and version-1
 * blobs by each row's codec, every codec's round trip through the store stack, a block zstd does not shrink
 * stored plain, the stored sizes, and the errors for a missing key, a wrong key, a damaged blob, a frame that
 * decodes to more than a block and a codec id nobody knows.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { DatabaseSync } from "node:sqlite";
import { BlobCorruptError, BlobUnreadableError, type BlockStore, type Encoding, PLAIN } from "./block_store.ts";
import { type CodecSettings, CodecStore, MISSING_KEY_TEXT, WrongKeyError } from "./codec_store.ts";
import { PLAIN_CODEC, V1_CODEC, ZSTD_CODEC } from "./codecs.ts";
import { FileStore } from "./file_store.ts";
import { LimitedStore } from "./limited_store.ts";
import { ThrottledStore } from "./throttled_store.ts";
import { fromHex } from "./crypto_v1.ts";
import { zstd } from "./zstd.ts";
import { BackyError } from "../util/errors.ts";
import { fixtureDir } from "../../tests/fixture_path.ts";

const KEY = fromHex("3ddd95ed478d194478e27a27a7c4eed19430363e827e1702fc181258cd2e088d", 32)!;
const UID = "abcdef0123456789ABCDEFGHJKLMNPQR";
const BLOCK = 65536;

interface Row {
  uid: string;
  checksum: string;
  enc_version: number;
  enc_envkey: string | null;
  enc_nonce: string | null;
}

function settings(codec: number, key: Uint8Array | null = KEY): CodecSettings {
  return { codec, level: 3, key, maxBlobSize: BLOCK };
}

/** The codec layer over the wrappers the CLI puts between it and the file store. */
function stack(files: BlockStore, codec: number, key: Uint8Array | null = KEY): CodecStore {
  return new CodecStore(ThrottledStore.wrap(new LimitedStore(files, 2, 2), 1 << 30, 1 << 30), settings(codec, key));
}

async function withFiles(fn: (files: FileStore) => Promise<void>): Promise<void> {
  const root = Deno.makeTempDirSync({ prefix: "backy2-codec-store-test-" });
  try {
    await fn(new FileStore(root));
  } finally {
    Deno.removeSync(root, { recursive: true });
  }
}

/** One plain and one version-1 blob of the fixture, copied into a fresh file store. */
function fixtureStore(): { root: string; rows: Row[] } {
  const fixture = fixtureDir();
  const root = Deno.makeTempDirSync({ prefix: "backy2-codec-store-test-" });
  Deno.copyFileSync(`${fixture}/backy.sqlite`, `${root}/catalog.sqlite`);
  const db = new DatabaseSync(`${root}/catalog.sqlite`, { readOnly: true });
  const pick = (version: number) =>
    db.prepare(
      "SELECT uid, checksum, enc_version, enc_envkey, enc_nonce FROM blocks WHERE enc_version = ? AND uid IS NOT NULL " +
        "AND uid != '893fea14d5HJTmsunPzVDjETtmfStweo' ORDER BY uid LIMIT 1",
    ).get(version) as unknown as Row;
  const rows = [pick(0), pick(1)];
  db.close();
  for (const { uid } of rows) {
    const dir = `${root}/data/${uid.slice(0, 2)}/${uid.slice(2, 4)}`;
    Deno.mkdirSync(dir, { recursive: true });
    Deno.copyFileSync(`${fixture}/data/${uid.slice(0, 2)}/${uid.slice(2, 4)}/${uid}.blob`, `${dir}/${uid}.blob`);
  }
  return { root, rows };
}

function encodingOf(row: Row): Encoding {
  return { encVersion: row.enc_version, encEnvkey: row.enc_envkey, encNonce: row.enc_nonce };
}

function sha512(data: Uint8Array): string {
  return createHash("sha512").update(data).digest("hex");
}

/** Text-like data that compresses well. */
function compressible(size: number): Uint8Array {
  const words = new TextEncoder().encode("block-level deduplicating backup of virtual machine images ");
  const data = new Uint8Array(size);
  for (let i = 0; i < size; i++) data[i] = words[(i * 7 + (i >> 9)) % words.length];
  return data;
}

Deno.test("every fixture blob is read by its row's codec, whatever codec new blobs get", async () => {
  const { root, rows } = fixtureStore();
  try {
    for (const codec of [PLAIN_CODEC, V1_CODEC, ZSTD_CODEC]) {
      const store = new CodecStore(new FileStore(`${root}/data`), { ...settings(codec), maxBlobSize: 4 << 20 });
      for (const row of rows) assert.equal(sha512(await store.read(row.uid, encodingOf(row))), row.checksum);
    }
  } finally {
    Deno.removeSync(root, { recursive: true });
  }
});

Deno.test("without a key, version-1 blobs are refused with backy2's message; plain ones still read", async () => {
  const { root, rows } = fixtureStore();
  try {
    const store = new CodecStore(new FileStore(`${root}/data`), {
      ...settings(ZSTD_CODEC, null),
      maxBlobSize: 4 << 20,
    });
    assert.equal(sha512(await store.read(rows[0].uid, encodingOf(rows[0]))), rows[0].checksum);
    await assert.rejects(store.read(rows[1].uid, encodingOf(rows[1])), (error) => {
      assert.ok(error instanceof BackyError && error.message === MISSING_KEY_TEXT, String(error));
      return true;
    });
  } finally {
    Deno.removeSync(root, { recursive: true });
  }
});

Deno.test("a wrong key is a BackyError naming the blob, not a bad blob", async () => {
  const { root, rows } = fixtureStore();
  try {
    const store = new CodecStore(new FileStore(`${root}/data`), settings(V1_CODEC, new Uint8Array(32).fill(1)));
    await assert.rejects(store.read(rows[1].uid, encodingOf(rows[1])), (error) => {
      assert.ok(error instanceof WrongKeyError && !(error instanceof BlobUnreadableError), String(error));
      assert.match(error.message, new RegExp(`^Cannot decrypt blob ${rows[1].uid}: Integrity Check Failed: 0x`));
      return true;
    });
  } finally {
    Deno.removeSync(root, { recursive: true });
  }
});

Deno.test("every codec round-trips through the store stack, with and without the caller's buffer", async () => {
  await withFiles(async (files) => {
    const plain = compressible(BLOCK - 100);
    for (const codec of [PLAIN_CODEC, V1_CODEC, ZSTD_CODEC]) {
      const store = stack(files, codec);
      const written = await store.write(UID, plain);
      assert.equal(written.encVersion, codec);
      const file = await files.read(UID, PLAIN);
      assert.equal(written.storedSize, file.length, "the stored size is the blob file's size");
      if (codec === PLAIN_CODEC) assert.deepEqual(file, plain, "a plain blob holds the block as it is");
      else assert.ok(file.length < plain.length / 4, `codec ${codec} compresses (${file.length} bytes)`);
      if (codec === V1_CODEC) assert.deepEqual([written.encEnvkey?.length, written.encNonce?.length], [80, 32]);
      else assert.deepEqual([written.encEnvkey, written.encNonce], [null, null]);

      const into = new ArrayBuffer(BLOCK);
      const read = await store.read(UID, written, into);
      assert.equal(sha512(read), sha512(plain), `codec ${codec} reads back`);
      assert.equal(read.buffer, into, `codec ${codec} decodes into the caller's buffer`);
      assert.equal(sha512(await store.read(UID, written)), sha512(plain), `codec ${codec} without a buffer`);
      await files.remove(UID);
    }
  });
});

Deno.test("a zstd frame blob is the block's standard zstd frame", async () => {
  await withFiles(async (files) => {
    const plain = compressible(BLOCK);
    await stack(files, ZSTD_CODEC).write(UID, plain);
    const frame = await files.read(UID, PLAIN);
    const { nodeZstd } = await import("./zstd.ts");
    assert.equal(sha512(await nodeZstd.decompress(frame, new Uint8Array(BLOCK))), sha512(plain));
  });
});

Deno.test("a block zstd does not shrink is stored plain, byte for byte", async () => {
  await withFiles(async (files) => {
    const random = crypto.getRandomValues(new Uint8Array(BLOCK));
    const written = await stack(files, ZSTD_CODEC).write(UID, random);
    assert.deepEqual(written, { ...PLAIN, storedSize: BLOCK });
    assert.deepEqual(await files.read(UID, PLAIN), random);
  });
});

Deno.test("encryption version 1 encrypts even a block that does not shrink", async () => {
  await withFiles(async (files) => {
    const random = crypto.getRandomValues(new Uint8Array(4096));
    const written = await stack(files, V1_CODEC).write(UID, random);
    assert.equal(written.encVersion, V1_CODEC);
    assert.equal(written.storedSize, 4096 + 42, "tag, nonce, frame header and the raw block");
  });
});

Deno.test("damaged v1 and zstd blobs are BlobCorruptErrors (unreadable blobs, to restore and scrub)", async () => {
  await withFiles(async (files) => {
    for (const [codec, detail] of [[V1_CODEC, "it fails GCM authentication"], [ZSTD_CODEC, "it does not decompress"]]) {
      const store = stack(files, codec as number);
      const written = await store.write(UID, compressible(BLOCK));
      const raw = await files.read(UID, PLAIN);
      raw[Math.floor(raw.length / 2)] ^= 0x5a;
      raw[raw.length - 3] ^= 0x5a;
      await Deno.writeFile(files.blobPath(UID), raw);
      await assert.rejects(store.read(UID, written, new ArrayBuffer(BLOCK)), (error) => {
        assert.ok(error instanceof BlobCorruptError && error instanceof BlobUnreadableError, String(error));
        assert.ok(error.message.startsWith(`Blob ${UID} is damaged: ${detail}`), error.message);
        return true;
      });
    }
  });
});

Deno.test("a frame that decodes to more than the block is damaged, and nothing larger is allocated", async () => {
  await withFiles(async (files) => {
    const frame = await zstd().compress(new Uint8Array(4 * BLOCK), 1);
    await files.write(UID, frame);
    const store = stack(files, ZSTD_CODEC);
    const encoding = { ...PLAIN, encVersion: ZSTD_CODEC };
    for (const into of [new ArrayBuffer(BLOCK), undefined]) {
      await assert.rejects(store.read(UID, encoding, into), BlobCorruptError);
    }
  });
});

Deno.test("an unknown codec id is a configuration error naming the blob, not a bad blob", async () => {
  await withFiles(async (files) => {
    await files.write(UID, compressible(100));
    const store = stack(files, ZSTD_CODEC);
    await assert.rejects(store.read(UID, { ...PLAIN, encVersion: 7 }), (error) => {
      assert.ok(error instanceof BackyError && !(error instanceof BlobUnreadableError), String(error));
      assert.equal(
        error.message,
        `Blob ${UID} has codec 7 (enc_version), which this backy2 does not know ` +
          "(it knows 0 (plain), 1 (encryption version 1), 2 (zstd)).",
      );
      return true;
    });
  });
});
