/**
 * Unit tests of metadata objects against the pipelines and the catalog: a backup's object is in the store
 * before the commit that makes its version valid, and equals the object of the committed version; a store
 * that cannot take the object leaves no valid version; an object imported into a new catalog gives back the
 * same version and blocks; missing blobs make the imported version invalid.
 */
import assert from "node:assert/strict";
import { SqliteCatalog } from "../catalog/sqlite.ts";
import type { Catalog } from "../catalog/catalog.ts";
import type { Source } from "../io/io.ts";
import { Locks } from "../lock/locks.ts";
import { Logger } from "../log/logger.ts";
import { MemoryStore } from "../store/memory_store.ts";
import { backup } from "../engine/backup.ts";
import type { Engine } from "../engine/engine.ts";
import { createHasher } from "../engine/hasher.ts";
import { Interruption } from "../engine/interruption.ts";
import { Exit } from "../util/errors.ts";
import { decodeMeta, encodeMeta } from "./format.ts";
import { metaOfVersion } from "./from_catalog.ts";
import { importable, importMeta } from "./into_catalog.ts";
import { writeStale } from "./sync.ts";

const BS = 4096;

function source(image: Uint8Array): Source {
  return {
    url: "memory://image",
    size: image.length,
    read: (offset, into) => {
      const part = image.subarray(offset, offset + into.length);
      into.set(part);
      return Promise.resolve(part.length);
    },
    close: () => Promise.resolve(),
  };
}

function image(blocks: number): Uint8Array {
  const data = new Uint8Array(blocks * BS + 100);
  for (let id = 0; id < blocks; id += 2) crypto.getRandomValues(data.subarray(id * BS, (id + 1) * BS));
  return data;
}

async function withEngine(
  fn: (engine: Engine, store: MemoryStore) => Promise<void>,
  wrap: (catalog: Catalog, store: MemoryStore) => Catalog = (catalog) => catalog,
): Promise<void> {
  const dir = Deno.makeTempDirSync({ prefix: "backy2-meta-sync-test-" });
  const catalog = SqliteCatalog.open(":memory:", { engine: "test", create: true });
  const store = new MemoryStore();
  const hasher = createHasher("sha512");
  const locks = new Locks(dir);
  const engine: Engine = {
    settings: {
      blockSize: BS,
      hashFunction: "sha512",
      deduplication: true,
      codec: 0,
      haveKey: false,
      processName: "backy2",
      readAhead: 6,
      cleanupGraceSeconds: 0,
    },
    catalog: wrap(catalog, store),
    store,
    log: new Logger({ verbose: false, machineOutput: true }),
    staleMeta: new Set(),
    locks,
    interruption: new Interruption(),
    hasher: () => hasher,
    openSource: () => Promise.resolve(source(image(12))),
    openTarget: () => Promise.reject(new Error("no target")),
  };
  try {
    await fn(engine, store);
  } finally {
    locks.unlockAll();
    hasher.close();
    catalog.close();
    Deno.removeSync(dir, { recursive: true });
  }
}

const REQUEST = { sourceUrl: "memory://image", name: "vm", snapshotName: "", tags: ["t"] };

Deno.test("meta sync: the object is durable before the commit, and is the committed version's object", async () => {
  let seenAtCommit: Uint8Array | null = null;
  await withEngine(async (engine, store) => {
    const { uid, exitCode } = await backup(engine, REQUEST);
    assert.equal(exitCode, Exit.ok);
    assert.ok(seenAtCommit, "the object was in the store when the commit ran");
    assert.deepEqual(await store.readMeta(uid), seenAtCommit);
    assert.deepEqual(seenAtCommit, await encodeMeta(metaOfVersion(engine.catalog, uid)));
    assert.equal(decodeMeta(seenAtCommit).version.valid, true);
  }, (catalog, store) =>
    new Proxy(catalog, {
      get(target, key) {
        if (key !== "commitVersion") return Reflect.get(target, key);
        return async (uid: string, map: Uint32Array) => {
          seenAtCommit = await store.readMeta(uid);
          return await target.commitVersion(uid, map);
        };
      },
    }));
});

Deno.test("meta sync: a store that cannot take the object leaves the version invalid and unfinished", async () => {
  await withEngine(async (engine, store) => {
    store.writeMeta = () => Promise.reject(new Error("No space left on device (os error 28)"));
    await assert.rejects(backup(engine, REQUEST), /Cannot write the metadata object of version .*No space left/);
    const [version] = engine.catalog.listVersions();
    assert.deepEqual([version.valid, version.inProgress], [false, true]);
  });
});

Deno.test("meta sync: stale versions are written again; a removed one is not", async () => {
  await withEngine(async (engine, store) => {
    const { uid } = await backup(engine, REQUEST);
    engine.catalog.addTags(uid, ["later"]);
    engine.staleMeta!.add(uid).add("00000000-0000-1000-8000-000000000000");
    assert.equal(await writeStale(engine), 1);
    assert.deepEqual(decodeMeta(await store.readMeta(uid)).version.tags, ["later", "t"]);
    assert.deepEqual(await store.listMeta(), [uid]);
    assert.equal(engine.staleMeta!.size, 0);
  });
});

Deno.test("meta sync: an object imported into a new catalog gives back the version and its blocks", async () => {
  await withEngine(async (engine) => {
    const { uid } = await backup(engine, REQUEST);
    const meta = metaOfVersion(engine.catalog, uid);
    const fresh = SqliteCatalog.open(":memory:", { engine: "fresh", create: true });
    try {
      assert.deepEqual(await importMeta(fresh, meta, () => true), []);
      assert.deepEqual(fresh.getVersion(uid), engine.catalog.getVersion(uid));
      assert.deepEqual(fresh.exportBlocks(uid), engine.catalog.exportBlocks(uid));
      assert.deepEqual(await encodeMeta(metaOfVersion(fresh, uid)), await encodeMeta(meta));
    } finally {
      fresh.close();
    }
    const stored = engine.catalog.exportBlocks(uid).filter((block) => block.uid !== null);
    const lost = stored[1].uid!;
    const { version, blocks, missing } = importable(meta, (blob) => blob !== lost);
    assert.deepEqual([version.valid, missing], [false, [lost]]);
    assert.ok(blocks.filter((block) => block.uid === lost).every((block) => !block.valid));
    assert.ok(blocks.filter((block) => block.uid !== lost).every((block) => block.valid));
  });
});
