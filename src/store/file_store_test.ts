/**
 * Unit tests of the file store: a write that fails leaves no temporary file and only its own are removed; a
 * missing blob is a BlobNotFoundError; a directory, a FIFO or any error while reading is a BlobUnreadableError
 * naming the file, and none of them hangs; metadata objects written at once land whole, and unfinished ones are
 * listed nowhere and removed by removeUnfinished.
 */
import assert from "node:assert/strict";
import { BlobNotFoundError, BlobUnreadableError, PLAIN } from "./block_store.ts";
import { type Barrier, blobFileError, FileStore } from "./file_store.ts";
import { alignedBuffer } from "../platform/aligned_memory.ts";

const UID = "0123456789abcdef0123456789abcdef";
const OTHER = "0123ffffffffffffffffffffffffffff";

async function temporaryFiles(root: string): Promise<string[]> {
  const found: string[] = [];
  const walk = async (dir: string) => {
    for await (const entry of Deno.readDir(dir)) {
      if (entry.isDirectory) await walk(`${dir}/${entry.name}`);
      else if (entry.name.endsWith(".tmp")) found.push(entry.name);
    }
  };
  await walk(root);
  return found.sort();
}

Deno.test("FileStore removes the temporary file of a write that failed, and leaves other processes' alone", async () => {
  const root = await Deno.makeTempDir({ prefix: "backy2-file-store-" });
  try {
    const store = new FileStore(root);
    // Another process's unfinished write, and a directory where this write's blob should go (rename fails).
    await Deno.mkdir(`${root}/01/23`, { recursive: true });
    await Deno.writeFile(`${store.blobPath(OTHER)}.tmp`, new Uint8Array(3));
    await Deno.mkdir(store.blobPath(UID));
    await assert.rejects(store.write(UID, new Uint8Array(16)));
    assert.deepEqual(await temporaryFiles(root), [`${OTHER}.blob.tmp`]);
    await store.close();
    assert.deepEqual(await temporaryFiles(root), [`${OTHER}.blob.tmp`]);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

async function withStore(fn: (store: FileStore) => Promise<void>): Promise<void> {
  const root = Deno.makeTempDirSync({ prefix: "backy2-file-store-test-" });
  try {
    await fn(new FileStore(root));
  } finally {
    Deno.removeSync(root, { recursive: true });
  }
}

/** What `store.read` rejects with. */
async function readError(store: FileStore): Promise<Error> {
  try {
    await store.read(UID, PLAIN, new ArrayBuffer(4096));
  } catch (error) {
    return error as Error;
  }
  throw new Error("the read succeeded");
}

Deno.test("a blob that is written reads back, also a short one into a larger buffer", async () => {
  await withStore(async (store) => {
    const data = crypto.getRandomValues(new Uint8Array(1000));
    await store.write(UID, data);
    assert.deepEqual(await store.read(UID, PLAIN, new ArrayBuffer(4096)), data);
    assert.deepEqual(await store.read(UID, PLAIN), data);
  });
});

Deno.test("a missing blob is a BlobNotFoundError", async () => {
  await withStore(async (store) => {
    const error = await readError(store);
    assert.ok(error instanceof BlobNotFoundError, String(error));
  });
});

Deno.test("a blob replaced by a directory is unreadable, not missing, and names the file", async () => {
  await withStore(async (store) => {
    Deno.mkdirSync(store.blobPath(UID), { recursive: true });
    const error = await readError(store);
    assert.ok(error instanceof BlobUnreadableError && !(error instanceof BlobNotFoundError), String(error));
    assert.equal(error.message, `Blob file ${store.blobPath(UID)} is a directory, not a regular file.`);
  });
});

Deno.test("a blob replaced by a FIFO is unreadable at once (no wait for a writer)", async () => {
  await withStore(async (store) => {
    await store.write(UID, new Uint8Array(10));
    Deno.removeSync(store.blobPath(UID));
    const made = await new Deno.Command("mkfifo", { args: [store.blobPath(UID)] }).output();
    assert.ok(made.success, "mkfifo");
    const error = await readError(store);
    assert.ok(error instanceof BlobUnreadableError && !(error instanceof BlobNotFoundError), String(error));
    assert.equal(error.message, `Blob file ${store.blobPath(UID)} is a FIFO, not a regular file.`);
  });
});

Deno.test("permission and IO errors while reading a blob file make it unreadable; a missing file, missing", () => {
  const path = "/data/ab/cd/x.blob";
  const denied = blobFileError(UID, path, new Deno.errors.PermissionDenied("Permission denied (os error 13)"));
  assert.ok(denied instanceof BlobUnreadableError && !(denied instanceof BlobNotFoundError), String(denied));
  assert.equal(denied.message, `Cannot read blob file ${path}: Permission denied (os error 13)`);
  const io = blobFileError(UID, path, new Error("Input/output error (os error 5)"));
  assert.ok(io instanceof BlobUnreadableError && !(io instanceof BlobNotFoundError), String(io));
  assert.equal(io.uid, UID);
  assert.ok(blobFileError(UID, path, new Deno.errors.NotFound("gone")) instanceof BlobNotFoundError);
});

Deno.test("aligned blocks and others, on a disk and on tmpfs (no direct IO), read back after either barrier, also directly", async () => {
  for (const parent of [Deno.cwd(), "/dev/shm"]) {
    for (const barrier of ["syncfs", "fdatasync"] as Barrier[]) {
      const root = Deno.makeTempDirSync({ dir: parent, prefix: "backy2-file-store-test-" });
      try {
        const store = new FileStore(`${root}/data`, { barrier });
        const aligned = new Uint8Array(alignedBuffer(65536));
        crypto.getRandomValues(aligned.subarray(0, 65536));
        const odd = crypto.getRandomValues(new Uint8Array(5000));
        await store.write(UID, aligned);
        await store.write(OTHER, odd);
        await store.flush();
        assert.deepEqual(await store.read(UID, PLAIN), aligned);
        assert.deepEqual(await store.read(UID, PLAIN, alignedBuffer(65536)), aligned); // a direct read
        assert.deepEqual(await store.read(OTHER, PLAIN, alignedBuffer(65536)), odd);
        await store.flush(); // nothing new: a no-op
      } finally {
        Deno.removeSync(root, { recursive: true });
      }
    }
  }
});

Deno.test("a blob removed before the flush is not flushed; one that vanished otherwise fails the flush", async () => {
  await withStore(async (store) => {
    await store.write(UID, new Uint8Array(100));
    await store.write(OTHER, new Uint8Array(100));
    assert.equal(await store.remove(UID), true);
    await store.flush();
    await store.write(UID, new Uint8Array(100));
    Deno.removeSync(store.blobPath(UID));
    await assert.rejects(store.flush(), Deno.errors.NotFound);
  });
});

Deno.test("metadata objects: writes of one name at once all land whole; a killed write's file is listed nowhere", async () => {
  const root = await Deno.makeTempDir({ prefix: "backy2-file-store-" });
  try {
    const store = new FileStore(root);
    const versions = Array.from({ length: 8 }, (_, i) => new Uint8Array(50000 + i).fill(i));
    await Promise.all(versions.map((bytes) => store.writeMeta("versions", "v1", bytes)));
    const stored = await store.readMeta("versions", "v1");
    assert.ok(versions.some((bytes) => stored.length === bytes.length && stored.every((b) => b === bytes[0])));
    assert.deepEqual(await temporaryFiles(root), []);
    await store.writeMeta("pages", "p1", new Uint8Array(5));
    await Deno.writeFile(`${root}/meta/versions/v2.4f1c.tmp`, new Uint8Array(3));
    await Deno.writeFile(`${root}/meta/pages/p2.77aa.tmp`, new Uint8Array(3));
    const names = async () =>
      [...await store.listMeta("versions"), ...await store.listMeta("pages")].map((m) => m.name);
    assert.deepEqual(await names(), ["v1", "p1"]);
    assert.equal(await store.removeUnfinished("01"), 0, "a blob prefix leaves metadata alone");
    assert.equal(await store.removeUnfinished(), 2);
    assert.deepEqual(await temporaryFiles(root), []);
    assert.deepEqual(await names(), ["v1", "p1"]);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
