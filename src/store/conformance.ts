/**
 * The block store contract as one test suite, run against every store (file, memory and S3): what
 * `write`, `read` (with and without a caller's buffer), `remove`, `removeMany`, `list` (order, prefix,
 * resuming after a uid, dates), `flush` and `removeUnfinished` must do, what a missing blob looks like, and
 * how metadata objects live beside the blobs without showing up among them.
 * A new store gets the same suite by calling {@link storeConformance} with a factory for empty stores.
 */
import assert from "node:assert/strict";
import { BlobNotFoundError, type BlockStore, MetaNotFoundError, PLAIN } from "./block_store.ts";

export interface StoreUnderTest {
  /** An empty store. */
  store: BlockStore;
  /** Removes the store and everything it holds. */
  dispose(): Promise<void>;
}

export interface ConformanceOptions {
  /** `removeMany` names the blobs that were missing (S3 cannot tell). */
  removeManyReportsMissing: boolean;
  /** How far the store's clock may be from this host's when it dates a blob (seconds). */
  clockSkewSeconds?: number;
}

/** Registers the suite's tests under `name`. */
export function storeConformance(name: string, open: () => Promise<StoreUnderTest>, options: ConformanceOptions) {
  for (const [title, check] of Object.entries(checks(options))) {
    Deno.test(`${name} store: ${title}`, async () => {
      const { store, dispose } = await open();
      try {
        await check(store);
      } finally {
        await store.close();
        await dispose();
      }
    });
  }
}

/** A uid of the store's format: 32 characters from [0-9a-zA-Z], starting with `prefix`. */
export function testUid(prefix: string, n: number): string {
  return (prefix + n.toString(36).padStart(6, "0")).padEnd(32, "x");
}

function bytes(size: number, seed: number): Uint8Array {
  const data = new Uint8Array(size);
  let x = seed * 2654435761 >>> 0;
  for (let i = 0; i < size; i++) {
    x = (x * 1664525 + 1013904223) >>> 0;
    data[i] = x >>> 24;
  }
  return data;
}

async function listed(store: BlockStore, prefix?: string, startAfter?: string): Promise<string[]> {
  const uids: string[] = [];
  for await (const blob of store.list(prefix, startAfter)) uids.push(blob.uid);
  return uids;
}

async function readBack(store: BlockStore, uid: string, into?: ArrayBuffer): Promise<Uint8Array> {
  return await store.read(uid, PLAIN, into);
}

type Check = (store: BlockStore) => Promise<void>;

function checks(options: ConformanceOptions): Record<string, Check> {
  return {
    "a written blob reads back byte for byte, whatever its size": async (store) => {
      const sizes = [0, 1, 4095, 65536, 4 * 1048576 + 1];
      for (const [i, size] of sizes.entries()) await store.write(testUid("aa", i), bytes(size, i));
      await store.flush();
      for (const [i, size] of sizes.entries()) {
        assert.deepEqual(await readBack(store, testUid("aa", i)), bytes(size, i));
      }
    },

    "a read into a caller's buffer returns the bytes, in that buffer when they fit": async (store) => {
      const data = bytes(10000, 7);
      await store.write(testUid("bb", 1), data);
      const big = new ArrayBuffer(16384);
      const fitted = await readBack(store, testUid("bb", 1), big);
      assert.deepEqual(fitted, data);
      if (fitted.buffer === big) assert.equal(fitted.byteOffset, 0);
      assert.deepEqual(await readBack(store, testUid("bb", 1), new ArrayBuffer(100)), data);
    },

    "the caller may reuse its buffer as soon as a write resolves": async (store) => {
      const buffer = bytes(5000, 3);
      const copy = buffer.slice();
      await store.write(testUid("cc", 1), buffer);
      buffer.fill(0);
      assert.deepEqual(await readBack(store, testUid("cc", 1)), copy);
    },

    "writing a uid again replaces its bytes (a retried write is harmless)": async (store) => {
      await store.write(testUid("dd", 1), bytes(3000, 1));
      await store.write(testUid("dd", 1), bytes(2000, 2));
      assert.deepEqual(await readBack(store, testUid("dd", 1)), bytes(2000, 2));
      assert.deepEqual(await listed(store), [testUid("dd", 1)]);
    },

    "a missing blob is a BlobNotFoundError naming its uid; removing it answers false": async (store) => {
      const uid = testUid("ee", 404);
      const error = await store.read(uid, PLAIN).then(() => null, (e) => e);
      assert.ok(error instanceof BlobNotFoundError, `expected BlobNotFoundError, got ${error}`);
      assert.equal(error.uid, uid);
      assert.equal(await store.remove(uid), false);
    },

    "a raw store refuses an encoding it did not write, without calling the blob missing": async (store) => {
      await store.write(testUid("ef", 1), bytes(100, 1));
      const encrypted = { encVersion: 1, encEnvkey: "00", encNonce: "00" };
      const error = await store.read(testUid("ef", 1), encrypted).then(() => null, (e) => e);
      assert.ok(error instanceof Error && !(error instanceof BlobNotFoundError), `got ${error}`);
    },

    "remove deletes one blob and answers true": async (store) => {
      await store.write(testUid("ff", 1), bytes(10, 1));
      await store.write(testUid("ff", 2), bytes(10, 2));
      assert.equal(await store.remove(testUid("ff", 1)), true);
      await assert.rejects(store.read(testUid("ff", 1), PLAIN), BlobNotFoundError);
      assert.deepEqual(await listed(store), [testUid("ff", 2)]);
    },

    "removeMany deletes what exists and at most names the missing ones": async (store) => {
      const present = [1, 2, 3, 4, 5].map((n) => testUid("gg", n));
      for (const uid of present) await store.write(uid, bytes(10, 1));
      const missing = [testUid("gg", 98), testUid("gg", 99)];
      const reported = await store.removeMany([present[0], missing[0], present[2], missing[1], present[4]]);
      if (options.removeManyReportsMissing) assert.deepEqual(reported.sort(), missing);
      else assert.ok(reported.every((uid) => missing.includes(uid)), `reported ${reported}`);
      assert.deepEqual(await listed(store), [present[1], present[3]]);
      assert.deepEqual(await store.removeMany([]), []);
    },

    "list yields every blob once, in ascending uid order, dated by its write": async (store) => {
      assert.deepEqual(await listed(store), []);
      const before = Date.now();
      const uids = ["Zz", "0a", "zz", "a0", "aZ", "9f", "00"].flatMap((
        prefix,
      ) => [testUid(prefix, 2), testUid(prefix, 1)]);
      await Promise.all(uids.map((uid, i) => store.write(uid, bytes(64, i))));
      const after = Date.now();
      const seen: string[] = [];
      const skew = (options.clockSkewSeconds ?? 5) * 1000;
      for await (const blob of store.list()) {
        seen.push(blob.uid);
        const time = blob.modified.getTime();
        assert.ok(time >= before - skew && time <= after + skew, `${blob.uid} dated ${blob.modified.toISOString()}`);
      }
      assert.deepEqual(seen, [...uids].sort());
    },

    "list keeps to a prefix and resumes after a uid": async (store) => {
      const uids = ["ab", "ac", "a", "b"].flatMap((prefix) => [1, 2, 3].map((n) => testUid(prefix, n)));
      for (const uid of uids) await store.write(uid, bytes(16, 1));
      const sorted = [...uids].sort();
      assert.deepEqual(await listed(store, "ab"), sorted.filter((uid) => uid.startsWith("ab")));
      assert.deepEqual(await listed(store, "a"), sorted.filter((uid) => uid.startsWith("a")));
      assert.deepEqual(await listed(store, "q"), []);
      assert.deepEqual(await listed(store, undefined, sorted[4]), sorted.slice(5));
      assert.deepEqual(await listed(store, "ab", testUid("ab", 1)), [testUid("ab", 2), testUid("ab", 3)]);
      assert.deepEqual(await listed(store, "a", sorted.at(-1)), []);
    },

    "flush and removeUnfinished keep every finished blob": async (store) => {
      const uids = [1, 2, 3].map((n) => testUid("hh", n));
      for (const uid of uids) await store.write(uid, bytes(100, 1));
      await store.flush();
      assert.ok(await store.removeUnfinished() >= 0);
      assert.ok(await store.removeUnfinished("hh") >= 0);
      assert.deepEqual(await listed(store), uids);
    },

    "many writes and reads at once all succeed": async (store) => {
      const uids = Array.from({ length: 32 }, (_, n) => testUid("ii", n));
      await Promise.all(uids.map((uid, n) => store.write(uid, bytes(20000 + n, n))));
      await store.flush();
      const read = await Promise.all(uids.map((uid) => readBack(store, uid, new ArrayBuffer(32768))));
      read.forEach((data, n) => assert.deepEqual(data, bytes(20000 + n, n)));
    },

    "metadata objects are written, replaced, listed with dates, read and removed by kind and name": async (store) => {
      const names = ["b4b0a4c2-0f2e-11ef-9c6b-0242ac120002", "a-1", "Z_9"];
      const before = Date.now() - 120_000;
      for (const [i, name] of names.entries()) await store.writeMeta("versions", name, bytes(1000 + i, i));
      await store.writeMeta("versions", names[1], bytes(70000, 9));
      await store.writeMeta("pages", names[0], bytes(30, 7));
      const listed = await store.listMeta("versions");
      assert.deepEqual(listed.map((meta) => meta.name), [...names].sort());
      assert.ok(listed.every((meta) => Math.abs(meta.modified.getTime() - before) < 600_000), "dates are recent");
      assert.deepEqual(await store.readMeta("versions", names[0]), bytes(1000, 0));
      assert.deepEqual(await store.readMeta("versions", names[1]), bytes(70000, 9));
      assert.deepEqual(await store.readMeta("pages", names[0]), bytes(30, 7));
      assert.equal(await store.removeMeta("versions", names[0]), true);
      assert.equal(await store.removeMeta("versions", names[0]), false);
      const error = await store.readMeta("versions", names[0]).then(() => null, (e) => e);
      assert.ok(error instanceof MetaNotFoundError, `expected MetaNotFoundError, got ${error}`);
      assert.deepEqual((await store.listMeta("versions")).map((meta) => meta.name), [names[1], names[2]].sort());
      assert.deepEqual((await store.listMeta("pages")).map((meta) => meta.name), [names[0]]);
    },

    "metadata objects and blobs never see each other": async (store) => {
      const uid = testUid("jj", 1);
      await store.write(uid, bytes(100, 1));
      await store.writeMeta("pages", uid, bytes(50, 2));
      await store.flush();
      const metaNames = async () => (await store.listMeta("pages")).map((meta) => meta.name);
      assert.deepEqual(await listed(store), [uid]);
      assert.deepEqual(await metaNames(), [uid]);
      assert.equal(await store.removeUnfinished(), 0);
      assert.deepEqual(await store.removeMany([uid]), []);
      assert.deepEqual(await metaNames(), [uid]);
      assert.deepEqual(await store.readMeta("pages", uid), bytes(50, 2));
      await store.removeMeta("pages", uid);
      await assert.rejects(store.read(uid, PLAIN), BlobNotFoundError);
      assert.deepEqual(await metaNames(), []);
    },

    "a metadata object name must be letters, digits, - and _, its kind versions or pages": async (store) => {
      for (const name of ["", "../x", "a/b", "a.b", "a b"]) {
        await assert.rejects(
          store.writeMeta("versions", name, bytes(1, 1)),
          Error,
          `writeMeta(${JSON.stringify(name)})`,
        );
      }
      await assert.rejects(store.writeMeta("../blobs" as "pages", "a", bytes(1, 1)), Error);
      assert.deepEqual(await store.listMeta("versions"), []);
    },
  };
}
