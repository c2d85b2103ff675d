/**
 * Unit tests of the store's metadata against the pipelines and the catalog: a backup's header and page objects
 * are in the store before the commit that makes its version valid, and equal what the committed version
 * describes; a store that cannot take them leaves no valid version; an unchanged differential writes its header
 * and no page object; stale headers are written again; a header imported into a new catalog gives back the
 * same version and blocks (missing blobs invalid), and that catalog knows the pages' objects.
 */
import assert from "node:assert/strict";
import { openSqliteCatalog } from "../catalog/sqlite/catalog.ts";
import type { Catalog } from "../catalog/catalog.ts";
import type { Source } from "../io/io.ts";
import { fileLocks } from "../lock/locks.ts";
import { Logger } from "../log/logger.ts";
import type { MetaKind } from "../store/block_store.ts";
import { MemoryStore } from "../store/memory_store.ts";
import { backup } from "../engine/backup.ts";
import type { Engine } from "../engine/engine.ts";
import { createHasher } from "../engine/hasher.ts";
import { Interruption } from "../engine/interruption.ts";
import { Exit } from "../util/errors.ts";
import { decodeHeader } from "./header_format.ts";
import { importable, importHeader } from "./into_catalog.ts";
import { writeStale, writeVersionMeta } from "./sync.ts";

const BS = 4096;
const BLOCKS = 1100;

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

/** Two pages' worth of blocks, every other one random, the rest sparse. */
function image(): Uint8Array {
  const data = new Uint8Array(BLOCKS * BS + 100);
  for (let id = 0; id < BLOCKS; id += 2) crypto.getRandomValues(data.subarray(id * BS, (id + 1) * BS));
  return data;
}

/** A memory store that counts the metadata objects written, by kind. */
class CountingStore extends MemoryStore {
  readonly written: Record<MetaKind, string[]> = { versions: [], pages: [] };

  override writeMeta(kind: MetaKind, name: string, data: Uint8Array): Promise<void> {
    this.written[kind].push(name);
    return super.writeMeta(kind, name, data);
  }
}

async function withEngine(
  fn: (engine: Engine, store: CountingStore) => Promise<void>,
  wrap: (catalog: Catalog, store: CountingStore) => Catalog = (catalog) => catalog,
): Promise<void> {
  const dir = Deno.makeTempDirSync({ prefix: "backy2-meta-sync-test-" });
  const catalog = openSqliteCatalog(":memory:", { engine: "test", create: true });
  const store = new CountingStore();
  const hasher = createHasher("sha512");
  const data = image();
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
    locks: fileLocks(dir),
    interruption: new Interruption(),
    hasher: () => hasher,
    openSource: () => Promise.resolve(source(data)),
    openTarget: () => Promise.reject(new Error("no target")),
  };
  try {
    await fn(engine, store);
  } finally {
    hasher.close();
    await catalog.close();
    Deno.removeSync(dir, { recursive: true });
  }
}

const REQUEST = { sourceUrl: "memory://image", name: "vm", snapshotName: "", tags: ["t"] };

/** The header the catalog describes now, as writeVersionMeta writes it into a scratch store. */
async function currentHeader(catalog: Catalog, uid: string): Promise<Uint8Array> {
  const scratch = new MemoryStore();
  await writeVersionMeta(scratch, catalog, uid);
  return await scratch.readMeta("versions", uid);
}

Deno.test("meta sync: header and pages are durable before the commit and describe the committed version", async () => {
  let seenAtCommit: { header: Uint8Array; pages: number } | null = null;
  await withEngine(async (engine, store) => {
    const { uid, exitCode } = await backup(engine, REQUEST);
    assert.equal(exitCode, Exit.ok);
    assert.ok(seenAtCommit, "the header was in the store when the commit ran");
    const header = decodeHeader(seenAtCommit.header);
    assert.equal(seenAtCommit.pages, 2, "both pages were there too");
    assert.deepEqual(header.pages.length, 2);
    assert.equal(header.version.valid, true);
    assert.deepEqual(await store.readMeta("versions", uid), seenAtCommit.header);
    assert.deepEqual(seenAtCommit.header, await currentHeader(engine.catalog, uid));
  }, (catalog, store) =>
    new Proxy(catalog, {
      get(target, key) {
        if (key !== "commitVersion") return Reflect.get(target, key);
        return async (uid: string, map: Uint32Array) => {
          const pages = (await store.listMeta("pages")).length;
          seenAtCommit = { header: await store.readMeta("versions", uid), pages };
          return await target.commitVersion(uid, map);
        };
      },
    }));
});

Deno.test("meta sync: a store that cannot take a page object or a header leaves the version unfinished", async () => {
  for (const failing of ["pages", "versions"] as MetaKind[]) {
    await withEngine(async (engine, store) => {
      const write = store.writeMeta.bind(store);
      store.writeMeta = (kind, name, data) =>
        kind === failing ? Promise.reject(new Error("No space left on device (os error 28)")) : write(kind, name, data);
      await assert.rejects(backup(engine, REQUEST), new RegExp(`metadata object ${failing}/.*No space left`));
      const [version] = await engine.catalog.listVersions();
      assert.deepEqual([version.valid, version.inProgress], [false, true]);
    });
  }
});

Deno.test("meta sync: an unchanged differential writes its header and no page object", async () => {
  await withEngine(async (engine, store) => {
    const base = await backup(engine, REQUEST);
    assert.equal(store.written.pages.length, 2);
    const diff = await backup(engine, { ...REQUEST, fromVersion: base.uid });
    assert.equal(diff.exitCode, Exit.ok);
    assert.deepEqual(store.written.pages.length, 2, "no page object for the differential");
    assert.deepEqual(store.written.versions, [base.uid, diff.uid]);
    const headers = await Promise.all(
      [base.uid, diff.uid].map(async (uid) => decodeHeader(await store.readMeta("versions", uid))),
    );
    assert.deepEqual(headers[1].pages, headers[0].pages, "the differential names the base's page objects");
  });
});

Deno.test("meta sync: stale versions are written again (header only); a removed one is not", async () => {
  await withEngine(async (engine, store) => {
    const { uid } = await backup(engine, REQUEST);
    await engine.catalog.addTags(uid, ["later"]);
    engine.staleMeta!.add(uid).add("00000000-0000-1000-8000-000000000000");
    const pagesBefore = store.written.pages.length;
    assert.equal(await writeStale(engine), 1);
    assert.deepEqual(decodeHeader(await store.readMeta("versions", uid)).version.tags, ["later", "t"]);
    assert.deepEqual((await store.listMeta("versions")).map((meta) => meta.name), [uid]);
    assert.equal(store.written.pages.length, pagesBefore, "no page object written again");
    assert.equal(engine.staleMeta!.size, 0);
  });
});

Deno.test("meta sync: a header imported into a new catalog gives back the version, its blocks and its pages", async () => {
  await withEngine(async (engine, store) => {
    const { uid } = await backup(engine, REQUEST);
    const header = decodeHeader(await store.readMeta("versions", uid));
    const fresh = openSqliteCatalog(":memory:", { engine: "fresh", create: true });
    try {
      assert.deepEqual(await importHeader(fresh, store, header, () => true), []);
      assert.deepEqual(await fresh.getVersion(uid), await engine.catalog.getVersion(uid));
      assert.deepEqual(await fresh.exportBlocks(uid), await engine.catalog.exportBlocks(uid));
      assert.deepEqual(await currentHeader(fresh, uid), await store.readMeta("versions", uid));
      const scratch = new CountingStore();
      await writeVersionMeta(scratch, fresh, uid);
      assert.deepEqual(scratch.written.pages, [], "the new catalog knows its pages' objects");
    } finally {
      await fresh.close();
    }
    const stored = (await engine.catalog.exportBlocks(uid)).filter((block) => block.uid !== null);
    const lost = stored[1].uid!;
    const { version, blocks, missing } = await importable(store, header, (blob) => blob !== lost);
    assert.deepEqual([version.valid, missing], [false, [lost]]);
    assert.ok(blocks.filter((block) => block.uid === lost).every((block) => !block.valid));
    assert.ok(blocks.filter((block) => block.uid !== lost).every((block) => block.valid));
  });
});
