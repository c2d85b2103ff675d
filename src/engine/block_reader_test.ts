/**
 * Unit tests of the block reader and the copy-on-write overlay on a fake catalog and store: reads across
 * blocks, verification (a bad blob fails its range, is logged once and invalidated), the bounded cache and
 * its coalescing of concurrent reads, and copy-on-write writes that never reach the store.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import type { BlobRef, Catalog, Version } from "../catalog/catalog.ts";
import { BlobNotFoundError, type BlockStore, type Encoding } from "../store/block_store.ts";
import { Level, Logger } from "../log/logger.ts";
import { fileLocks } from "../lock/locks.ts";
import type { Engine } from "./engine.ts";
import { createHasher } from "./hasher.ts";
import { Interruption } from "./interruption.ts";
import { BlockCache, UnreadableBlockError, VersionImage } from "./block_reader.ts";
import { CowImage } from "./cow_overlay.ts";

const BLOCK = 1024;

class CapturingLog extends Logger {
  readonly lines: string[] = [];
  constructor() {
    super({ verbose: false, machineOutput: true });
  }
  override log(level: Level, message: string): void {
    if (level >= Level.INFO) this.lines.push(message);
  }
}

interface Fixture {
  engine: Engine;
  version: Version;
  image: Uint8Array;
  blobs: Map<string, Uint8Array>;
  reads: string[];
  invalidated: string[];
  log: CapturingLog;
}

/** A version of `kinds` blocks ("data" or "sparse"), the last one `tail` bytes long when given. */
function fixture(kinds: ("data" | "sparse")[], tail = BLOCK): Fixture {
  const sizeBytes = (kinds.length - 1) * BLOCK + tail;
  const image = new Uint8Array(sizeBytes);
  const blobs = new Map<string, Uint8Array>();
  const refs = new Map<number, BlobRef>();
  const map = new Uint32Array(kinds.length);
  kinds.forEach((kind, id) => {
    const length = Math.min(BLOCK, sizeBytes - id * BLOCK);
    const ref: BlobRef = {
      id: id + 1,
      uid: null,
      checksum: null,
      size: length,
      valid: true,
      encVersion: 0,
      encEnvkey: null,
      encNonce: null,
      storedSize: null,
    };
    if (kind === "data") {
      const block = crypto.getRandomValues(new Uint8Array(length));
      image.set(block, id * BLOCK);
      ref.uid = `blob${id}`;
      ref.checksum = createHash("sha512").update(block).digest("hex");
      blobs.set(ref.uid, block);
    }
    refs.set(ref.id, ref);
    map[id] = ref.id;
  });
  const reads: string[] = [];
  const invalidated: string[] = [];
  const version: Version = {
    uid: "v1",
    date: "2026-01-02 03:04:05.000000",
    expire: null,
    name: "test",
    snapshotName: "",
    size: kinds.length,
    sizeBytes,
    valid: true,
    protected: false,
    tags: [],
    inProgress: false,
    blockSize: BLOCK,
    hashFunction: "sha512",
  };
  const catalog = {
    blockMap: () => Promise.resolve(map),
    refs: (ids: Iterable<number>) => Promise.resolve(new Map([...ids].map((id) => [id, refs.get(id)!]))),
    invalidate: (uid: string) => {
      invalidated.push(uid);
      return Promise.resolve([version.uid]);
    },
  } as unknown as Catalog;
  const store = {
    read(uid: string, _encoding: Encoding): Promise<Uint8Array> {
      reads.push(uid);
      const blob = blobs.get(uid);
      if (!blob) return Promise.reject(new BlobNotFoundError(uid, `Blob ${uid} not found`));
      return new Promise((resolve) => setTimeout(() => resolve(blob.slice()), 1));
    },
  } as unknown as BlockStore;
  const log = new CapturingLog();
  const hasher = createHasher("sha512");
  const engine: Engine = {
    settings: {
      blockSize: BLOCK,
      hashFunction: "sha512",
      deduplication: true,
      codec: 0,
      haveKey: false,
      processName: "test",
      readAhead: 2,
      cleanupGraceSeconds: 0,
    },
    catalog,
    store,
    log,
    locks: fileLocks(""),
    interruption: new Interruption(),
    hasher: () => hasher,
    openSource: () => Promise.reject(new Error("unused")),
    openTarget: () => Promise.reject(new Error("unused")),
  };
  return { engine, version, image, blobs, reads, invalidated, log };
}

Deno.test("a version image reads any range, across blocks and sparse blocks, byte for byte", async () => {
  const fx = fixture(["data", "sparse", "data", "data"], 300);
  const image = await VersionImage.open(fx.engine, fx.version, new BlockCache(8));
  for (const [offset, length] of [[0, 10], [1000, 100], [0, fx.image.length], [BLOCK * 3 + 7, 293], [2047, 2]]) {
    assert.deepEqual(
      await image.read(offset, length),
      fx.image.subarray(offset, offset + length),
      `${offset}+${length}`,
    );
  }
  assert.ok(!fx.reads.includes("blob1"), "a sparse block is never read from the store");
  assert.deepEqual(image.extents(0, fx.image.length), [
    { length: BLOCK, zero: false },
    { length: BLOCK, zero: true },
    { length: BLOCK + 300, zero: false },
  ]);
});

Deno.test("concurrent reads of one block read its blob once; the cache holds at most its capacity", async () => {
  const fx = fixture(["data", "data", "data", "data", "data", "data"]);
  const image = await VersionImage.open(fx.engine, fx.version, new BlockCache(2));
  await Promise.all(Array.from({ length: 8 }, (_, i) => image.read(i * 100, 100)));
  assert.deepEqual(fx.reads.filter((uid) => uid === "blob0"), ["blob0"]);
  // Read every block twice in order, far apart: a cache of two blocks must read them again.
  for (let round = 0; round < 2; round++) {
    for (let id = 5; id >= 0; id--) await image.read(id * BLOCK, 1);
  }
  assert.ok(fx.reads.filter((uid) => uid === "blob3").length >= 2, fx.reads.join(","));
});

Deno.test("a damaged blob fails only its own range, is logged once and invalidated; others still read", async () => {
  const fx = fixture(["data", "data", "data"]);
  fx.blobs.get("blob1")![5] ^= 0xff;
  const image = await VersionImage.open(fx.engine, fx.version, new BlockCache(8));
  await assert.rejects(image.read(BLOCK + 10, 10), UnreadableBlockError);
  await assert.rejects(image.read(0, 3 * BLOCK), UnreadableBlockError);
  assert.deepEqual(await image.read(0, BLOCK), fx.image.subarray(0, BLOCK));
  assert.deepEqual(await image.read(2 * BLOCK, BLOCK), fx.image.subarray(2 * BLOCK));
  assert.deepEqual(fx.invalidated, ["blob1"]);
  assert.equal(fx.log.lines.filter((line) => line.startsWith("Checksum mismatch reading block 1 ")).length, 1);
});

Deno.test("a missing blob and a block never backed up fail with a log line", async () => {
  const fx = fixture(["data", "data"]);
  fx.blobs.delete("blob0");
  const image = await VersionImage.open(fx.engine, fx.version, new BlockCache(8));
  await assert.rejects(image.read(0, 1), /Cannot read block 0 of version v1: Blob blob0 not found/);
  assert.deepEqual(fx.invalidated, ["blob0"]);
  const incomplete = fixture(["data", "data"]);
  (await incomplete.engine.catalog.blockMap("v1"))[1] = 0;
  const partial = await VersionImage.open(incomplete.engine, incomplete.version, new BlockCache(8));
  await assert.rejects(partial.read(BLOCK, 1), /Block 1 of version v1 was never backed up/);
});

Deno.test("copy-on-write: writes read back, the rest reads as the backup, the store is never written", async () => {
  const fx = fixture(["data", "sparse", "data"], 500);
  const cow = CowImage.create(
    await VersionImage.open(fx.engine, fx.version, new BlockCache(8)),
    Deno.makeTempDirSync(),
  );
  try {
    const expected = fx.image.slice();
    const patch = (offset: number, data: Uint8Array) => expected.set(data, offset);
    const whole = new Uint8Array(500).fill(7);
    await cow.write(2 * BLOCK, whole);
    patch(2 * BLOCK, whole);
    assert.deepEqual(fx.reads, [], "a write covering a whole block does not read it");
    const partial = new Uint8Array(2 * BLOCK - 100 - 700).fill(0xcd);
    await cow.write(700, partial);
    patch(700, partial);
    await Promise.all([cow.write(10, new Uint8Array([1, 2, 3])), cow.write(12, new Uint8Array([9]))]);
    patch(10, new Uint8Array([1, 2, 9]));
    assert.deepEqual(await cow.read(0, expected.length), expected);
    assert.deepEqual(await cow.read(BLOCK + 100, 10), expected.subarray(BLOCK + 100, BLOCK + 110));
    assert.deepEqual(cow.extents(0, expected.length), [{ length: expected.length, zero: false }]);
  } finally {
    cow.close();
  }
});

Deno.test("a store failure that is not the blob's fails the read without invalidating; the next read tries again", async () => {
  const fx = fixture(["data"]);
  const store = fx.engine.store;
  let down = true;
  fx.engine.store = {
    ...store,
    read: (uid: string, encoding: Encoding) =>
      down ? Promise.reject(new Error("connection refused")) : store.read(uid, encoding),
  } as BlockStore;
  const image = await VersionImage.open(fx.engine, fx.version, new BlockCache(8));
  await assert.rejects(image.read(0, 10), /Cannot read block 0 of version v1 \(blob blob0\): connection refused/);
  assert.deepEqual(fx.invalidated, []);
  down = false;
  assert.deepEqual(await image.read(0, 10), fx.image.subarray(0, 10));
});
