/**
 * Unit tests of the pipelines against failures a CLI test cannot make as root: a blob store whose files give
 * "permission denied" or IO errors, a restore target whose writes fail, and a source whose reads fail. Each
 * failure must reach the result (exit 6 or 20 with the blob invalidated, or a rejection): never a success.
 */
import assert from "node:assert/strict";
import { openSqliteCatalog } from "../catalog/sqlite/catalog.ts";
import type { Source, Target } from "../io/io.ts";
import { fileLocks } from "../lock/locks.ts";
import { Logger } from "../log/logger.ts";
import type { BlockStore, Encoding } from "../store/block_store.ts";
import { blobFileError, FileStore } from "../store/file_store.ts";
import { StoreWrapper } from "../store/store_wrapper.ts";
import { Exit } from "../util/errors.ts";
import { backup } from "./backup.ts";
import type { Engine } from "./engine.ts";
import { createHasher } from "./hasher.ts";
import { Interruption } from "./interruption.ts";
import { restore } from "./restore.ts";
import { scrub } from "./scrub.ts";

const BS = 4096;
const BLOCKS = 24;

/** Reads of the chosen blob uids fail the way the file store reports a file it may not or cannot read. */
class FailingStore extends StoreWrapper {
  readonly failing = new Map<string, Error>();

  constructor(inner: BlockStore) {
    super(inner);
  }

  override read(uid: string, encoding: Encoding, into?: ArrayBuffer): Promise<Uint8Array> {
    const error = this.failing.get(uid);
    if (error) return Promise.reject(blobFileError(uid, `/data/${uid}.blob`, error));
    return super.read(uid, encoding, into);
  }
}

/**
 * An in-memory image as a source. Reads end in batches, all those in flight in the same turn, as reads from
 * a disk may; the read of block `failAt` fails in such a batch.
 */
class MemorySource implements Source {
  readonly url = "memory://image";
  readonly parallelReads = 4;
  readonly size: number;
  private batch: Promise<void> | null = null;

  constructor(private readonly image: Uint8Array, private readonly failAt = -1) {
    this.size = image.length;
  }

  async read(offset: number, into: Uint8Array): Promise<number> {
    this.batch ??= new Promise((done) => setTimeout(() => (this.batch = null, done()), 1));
    await this.batch;
    if (offset === this.failAt * BS) throw new Error("Input/output error (os error 5)");
    const part = this.image.subarray(offset, offset + into.length);
    into.set(part);
    return part.length;
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

/** An in-memory restore target; writes at `failAt` fail. Records whether it was flushed after the writes. */
class MemoryTarget implements Target {
  readonly url = "memory://target";
  readonly data: Uint8Array;
  writes = 0;
  flushedAfter = -1;

  constructor(size: number, private readonly failAt = -1) {
    this.data = new Uint8Array(size);
  }

  async write(offset: number, data: Uint8Array): Promise<void> {
    await new Promise((done) => setTimeout(done, 1));
    if (offset === this.failAt * BS) throw new Error("No space left on device (os error 28)");
    this.data.set(data, offset);
    this.writes++;
  }

  writeZeroes(offset: number, length: number): Promise<void> {
    this.data.fill(0, offset, offset + length);
    return Promise.resolve();
  }

  flush(): Promise<void> {
    this.flushedAfter = this.writes;
    return Promise.resolve();
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

interface Rig {
  engine: Engine;
  store: FailingStore;
  image: Uint8Array;
  /** The version of `image`, backed up through the engine. */
  uid: string;
  targets: MemoryTarget[];
  /** The lock directory. */
  dir: string;
}

async function withRig(fn: (rig: Rig) => Promise<void>, failTargetAt = -1): Promise<void> {
  const dir = Deno.makeTempDirSync({ prefix: "backy2-damaged-data-test-" });
  const catalog = openSqliteCatalog(`${dir}/catalog.sqlite`, { engine: "test", create: true });
  const store = new FailingStore(new FileStore(`${dir}/data`));
  const hasher = createHasher("sha512");
  const locks = fileLocks(dir);
  const image = new Uint8Array(BLOCKS * BS);
  for (let id = 0; id < BLOCKS; id++) crypto.getRandomValues(image.subarray(id * BS, (id + 1) * BS));
  const targets: MemoryTarget[] = [];
  let source: Source = new MemorySource(image);
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
    catalog,
    store,
    log: new Logger({ verbose: false, machineOutput: true }),
    locks,
    interruption: new Interruption(),
    hasher: () => hasher,
    openSource: () => Promise.resolve(source),
    openTarget: (_url, size) => {
      const target = new MemoryTarget(size, failTargetAt);
      targets.push(target);
      return Promise.resolve(target);
    },
  };
  try {
    const { uid, exitCode } = await backup(engine, { sourceUrl: "memory://image", name: "vm", snapshotName: "" });
    assert.equal(exitCode, Exit.ok);
    source = new MemorySource(image, 7);
    await fn({ engine, store, image, uid, targets, dir });
  } finally {
    await locks.close();
    hasher.close();
    await catalog.close();
    Deno.removeSync(dir, { recursive: true });
  }
}

/** The blob uid of a block of the rig's version. */
async function blobOf({ engine, uid }: Rig, id: number): Promise<string> {
  const refId = (await engine.catalog.blockMap(uid))[id];
  return (await engine.catalog.refs([refId])).get(refId)!.uid!;
}

const RESTORE = { targetUrl: "memory://target", sparse: false, force: false, continueFrom: 0 };

Deno.test("restore: blobs that give EACCES or EIO are invalidated, the rest is written, and it ends with exit 6", async () => {
  await withRig(async (rig) => {
    rig.store.failing.set(await blobOf(rig, 3), new Deno.errors.PermissionDenied("Permission denied (os error 13)"));
    rig.store.failing.set(await blobOf(rig, 4), new Error("Input/output error (os error 5)"));
    assert.equal(await restore(rig.engine, { uid: rig.uid, ...RESTORE }), Exit.dataBackend);
    const [target] = rig.targets;
    for (let id = 0; id < BLOCKS; id++) {
      const want = id === 3 || id === 4 ? new Uint8Array(BS) : rig.image.subarray(id * BS, (id + 1) * BS);
      assert.deepEqual(target.data.subarray(id * BS, (id + 1) * BS), want, `block ${id}`);
    }
    assert.equal(target.flushedAfter, BLOCKS - 2, "the target was flushed after every write");
    assert.equal((await rig.engine.catalog.getVersion(rig.uid)).valid, false);
    const invalid = await rig.engine.catalog.invalidRefIds();
    const map = await rig.engine.catalog.blockMap(rig.uid);
    assert.deepEqual([...map].map((ref, id) => invalid.has(ref) ? id : -1).filter((id) => id >= 0), [3, 4]);
  });
});

Deno.test("scrub: a blob that gives EIO is invalidated and the scrub ends with exit 20", async () => {
  await withRig(async (rig) => {
    rig.store.failing.set(await blobOf(rig, 10), new Error("Input/output error (os error 5)"));
    assert.equal(await scrub(rig.engine, { uid: rig.uid, percentile: 100 }), Exit.scrubFailed);
    assert.equal((await rig.engine.catalog.getVersion(rig.uid)).valid, false);
    assert.equal(
      (await rig.engine.catalog.invalidRefIds()).has((await rig.engine.catalog.blockMap(rig.uid))[10]),
      true,
    );
  });
});

Deno.test("restore: a failed target write fails the restore, naming the block and the target", async () => {
  await withRig(async (rig) => {
    await assert.rejects(
      restore(rig.engine, { uid: rig.uid, ...RESTORE }),
      /^BackyError: Cannot write block 5 to memory:\/\/target: No space left on device \(os error 28\)$/,
    );
    assert.equal((await rig.engine.catalog.getVersion(rig.uid)).valid, true, "a target failure invalidates nothing");
  }, 5);
});

Deno.test("backup: a source read that fails while other reads are in flight fails the backup", async () => {
  await withRig(async ({ engine }) => {
    await assert.rejects(
      backup(engine, { sourceUrl: "memory://image", name: "vm", snapshotName: "" }),
      /Input\/output error/,
    );
    const versions = await engine.catalog.listVersions({ name: "vm" });
    assert.deepEqual(versions.map((v) => v.valid), [true, false], "the failed backup left no valid version");
  });
});

Deno.test("restore and scrub release the version lock they took when they end", async () => {
  await withRig(async (rig) => {
    const other = fileLocks(rig.dir);
    const free = async (uid: string) => {
      const lease = await other.tryAcquire(uid, "exclusive");
      await lease?.release();
      return lease !== null;
    };
    try {
      assert.equal(await restore(rig.engine, { uid: rig.uid, ...RESTORE }), Exit.ok);
      assert.equal(await free(rig.uid), true, "after restore");
      assert.equal(await scrub(rig.engine, { uid: rig.uid, percentile: 100 }), Exit.ok);
      assert.equal(await free(rig.uid), true, "after scrub");
    } finally {
      await other.close();
    }
  });
});
