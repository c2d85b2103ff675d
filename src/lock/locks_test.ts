/**
 * Unit tests of the flock-based locks. Two Locks objects in one process open their own descriptors, and
 * flock treats them as independent holders, like two processes.
 */
import { assertEquals } from "../output/test_assert.ts";
import { Locks } from "./locks.ts";

Deno.test("a refused shared-to-exclusive upgrade keeps the shared lock", () => {
  const dir = Deno.makeTempDirSync();
  const [cleanup, reader, other] = [new Locks(dir), new Locks(dir), new Locks(dir)];
  assertEquals([cleanup.lock("backy", "shared"), reader.lock("backy", "shared")], [true, true]);
  assertEquals(cleanup.lock("backy", "exclusive"), false, "the reader's shared lock prevents the upgrade");
  reader.unlock("backy");
  assertEquals(other.lock("backy", "exclusive"), false, "the refused upgrade must not have dropped the shared lock");
  assertEquals(cleanup.lock("backy", "exclusive"), true, "with the reader gone the upgrade succeeds");
  cleanup.unlockAll();
  assertEquals(other.lock("backy", "exclusive"), true);
  other.unlockAll();
  Deno.removeSync(dir, { recursive: true });
});
