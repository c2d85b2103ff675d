/**
 * Unit tests of the encrypting store around a file store: reading the real backy2 fixture's version-0 and
 * version-1 blobs by each row's version, writing in the configured version, and the errors for a missing key,
 * a wrong key and a damaged blob.
 */
import { createHash } from "node:crypto";
import { DatabaseSync } from "node:sqlite";
import assert from "node:assert/strict";
import { BlobCorruptError, BlobNotFoundError, BlobUnreadableError, type Encoding, PLAIN } from "./block_store.ts";
import { EncryptingStore, MISSING_KEY_TEXT } from "./encrypting_store.ts";
import { FileStore } from "./file_store.ts";
import { fromHex } from "./crypto_v1.ts";
import { BackyError } from "../util/errors.ts";
import { fixtureDir } from "../../tests/fixture_path.ts";

const KEY = fromHex("3ddd95ed478d194478e27a27a7c4eed19430363e827e1702fc181258cd2e088d", 32)!;

interface Row {
  uid: string;
  checksum: string;
  enc_version: number;
  enc_envkey: string | null;
  enc_nonce: string | null;
}

/** One version-0 and one version-1 blob of the fixture, copied into a fresh file store. */
function fixtureStore(): { root: string; rows: Row[] } {
  const fixture = fixtureDir();
  const root = Deno.makeTempDirSync({ prefix: "backy2-enc-store-test-" });
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

Deno.test("every blob is read by its row's version, whatever version new blobs get", async () => {
  const { root, rows } = fixtureStore();
  try {
    for (const version of [0, 1]) {
      const store = new EncryptingStore(new FileStore(`${root}/data`), version, KEY);
      for (const row of rows) assert.deepEqual(sha512(await store.read(row.uid, encodingOf(row))), row.checksum);
    }
  } finally {
    Deno.removeSync(root, { recursive: true });
  }
});

Deno.test("without a key, version-1 blobs are refused with backy2's message; version 0 still reads", async () => {
  const { root, rows } = fixtureStore();
  try {
    const store = new EncryptingStore(new FileStore(`${root}/data`), 0, null);
    assert.deepEqual(sha512(await store.read(rows[0].uid, encodingOf(rows[0]))), rows[0].checksum);
    await assert.rejects(store.read(rows[1].uid, encodingOf(rows[1])), (error) => {
      assert.ok(error instanceof BackyError, String(error));
      assert.equal(error.message, MISSING_KEY_TEXT);
      return true;
    });
  } finally {
    Deno.removeSync(root, { recursive: true });
  }
});

Deno.test("a wrong key is a BackyError naming the blob, not a bad blob", async () => {
  const { root, rows } = fixtureStore();
  try {
    const store = new EncryptingStore(new FileStore(`${root}/data`), 1, new Uint8Array(32).fill(1));
    await assert.rejects(store.read(rows[1].uid, encodingOf(rows[1])), (error) => {
      assert.ok(error instanceof BackyError && !(error instanceof BlobUnreadableError), String(error));
      assert.ok(
        error.message.startsWith(`Cannot decrypt blob ${rows[1].uid}: Integrity Check Failed: 0x`),
        error.message,
      );
      return true;
    });
  } finally {
    Deno.removeSync(root, { recursive: true });
  }
});

Deno.test("version 1 writes encrypted blobs that read back; a damaged one is a BlobCorruptError", async () => {
  const root = Deno.makeTempDirSync({ prefix: "backy2-enc-store-test-" });
  try {
    const files = new FileStore(root);
    const store = new EncryptingStore(files, 1, KEY);
    const plain = crypto.getRandomValues(new Uint8Array(4096));
    const uid = "abcdef0123456789ABCDEFGHJKLMNPQR";
    const encoding = await store.write(uid, plain);
    assert.equal(encoding.encVersion, 1);
    assert.deepEqual([encoding.encEnvkey?.length, encoding.encNonce?.length], [80, 32]);
    assert.deepEqual(sha512(await store.read(uid, encoding)), sha512(plain));
    const raw = await files.read(uid, PLAIN);
    assert.ok(sha512(raw) !== sha512(plain) && raw.length === 4138, "the file holds the encoded blob");
    raw[50] ^= 1;
    await Deno.writeFile(files.blobPath(uid), raw);
    await assert.rejects(store.read(uid, encoding), (error) => {
      assert.ok(error instanceof BlobUnreadableError && !(error instanceof BlobNotFoundError), String(error));
      assert.ok(error instanceof BlobCorruptError, String(error));
      assert.equal(error.message, `Blob ${uid} is damaged: it fails GCM authentication.`);
      return true;
    });
    assert.deepEqual(await new EncryptingStore(files, 0, KEY).write(uid, plain), PLAIN);
  } finally {
    Deno.removeSync(root, { recursive: true });
  }
});
