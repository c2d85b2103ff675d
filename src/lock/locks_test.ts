/**
 * Unit tests of the flock-based locks. Two Locks objects in one process open their own descriptors, and
 * flock treats them as independent holders, like two processes.
 */
import assert from "node:assert/strict";
import { Locks } from "./locks.ts";

Deno.test("a refused shared-to-exclusive upgrade keeps the shared lock", () => {
  const dir = Deno.makeTempDirSync();
  const [cleanup, reader, other] = [new Locks(dir), new Locks(dir), new Locks(dir)];
  assert.deepEqual([cleanup.lock("backy", "shared"), reader.lock("backy", "shared")], [true, true]);
  assert.equal(cleanup.lock("backy", "exclusive"), false, "the reader's shared lock prevents the upgrade");
  reader.unlock("backy");
  assert.equal(other.lock("backy", "exclusive"), false, "the refused upgrade must not have dropped the shared lock");
  assert.equal(cleanup.lock("backy", "exclusive"), true, "with the reader gone the upgrade succeeds");
  cleanup.unlockAll();
  assert.equal(other.lock("backy", "exclusive"), true);
  other.unlockAll();
  Deno.removeSync(dir, { recursive: true });
});
