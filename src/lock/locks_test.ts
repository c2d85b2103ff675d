/**
 * Unit tests of the lock manager on flock files. Two managers in one process open their own descriptors, and
 * flock treats them as independent holders, like two processes.
 */
import assert from "node:assert/strict";
import { fileLocks } from "./locks.ts";
import { describeHolders } from "./lock_manager.ts";

function withDir(fn: (dir: string) => Promise<void>): () => Promise<void> {
  return async () => {
    const dir = Deno.makeTempDirSync();
    try {
      await fn(dir);
    } finally {
      Deno.removeSync(dir, { recursive: true });
    }
  };
}

Deno.test(
  "a refused shared-to-exclusive change keeps the shared lease",
  withDir(async (dir) => {
    const [cleanup, reader, other] = [fileLocks(dir), fileLocks(dir), fileLocks(dir)];
    const held = await cleanup.tryAcquire("backy", "shared");
    const read = await reader.tryAcquire("backy", "shared");
    assert.ok(held && read);
    assert.equal(await cleanup.tryAcquire("backy", "exclusive"), null, "the reader's shared lease prevents it");
    await read.release();
    assert.equal(await other.tryAcquire("backy", "exclusive"), null, "the refused change kept the shared lock");
    const exclusive = await cleanup.tryAcquire("backy", "exclusive");
    assert.ok(exclusive, "with the reader gone the change succeeds");
    await exclusive.release();
    assert.ok(await reader.tryAcquire("backy", "shared"), "ending the exclusive lease went back to shared");
    await Promise.all([cleanup.close(), reader.close()]);
    assert.ok(await other.tryAcquire("backy", "exclusive"));
    await other.close();
  }),
);

Deno.test(
  "a lease ends with its scope, also when the scope throws; a refusal throws the caller's error",
  withDir(async (dir) => {
    const [mine, theirs] = [fileLocks(dir), fileLocks(dir)];
    const work = async () => {
      await using _lease = await mine.acquire("v1", "exclusive", () => new Error("refused"));
      await assert.rejects(theirs.acquire("v1", "shared", (holder) => new Error(`locked ${holder}`)), /locked null/);
      throw new Error("failed inside");
    };
    await assert.rejects(work(), /failed inside/);
    const after = await theirs.acquire("v1", "exclusive", () => new Error("still held"));
    assert.deepEqual((await mine.list()).map((held) => [held.name, held.mode]), [["v1", "exclusive"]]);
    await after.release();
    await after.release();
    assert.deepEqual(await mine.list(), []);
    await Promise.all([mine.close(), theirs.close()]);
  }),
);

Deno.test("an empty lock_dir grants every lease without locking", async () => {
  const [a, b] = [fileLocks(""), fileLocks("")];
  assert.equal(a.enabled, false);
  assert.ok(await a.tryAcquire("x", "exclusive"));
  assert.ok(await b.tryAcquire("x", "exclusive"));
  await Promise.all([a.close(), b.close()]);
});

Deno.test("holders are described with command, pid, host and time", () => {
  const line = describeHolders([{
    name: "v1",
    mode: "exclusive",
    host: "b2",
    pid: 42,
    command: "backup file:///d vm",
    since: "2026-12-01T05:21:24Z",
    heartbeat: null,
  }]);
  assert.equal(line, "backup file:///d vm (pid 42) on host b2 since 2026-12-01 05:21:24 UTC");
});
