/** Unit tests of the task group: no failure of a task is ever dropped, whoever is waiting when it happens. */
import assert from "node:assert/strict";
import { forEachInWindow, TaskGroup } from "./task_group.ts";

const tick = (ms: number) => new Promise((done) => setTimeout(done, ms));

/** A promise and the function that resolves it. */
function gate(): { opened: Promise<void>; open: () => void } {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => open = resolve);
  return { opened, open };
}

Deno.test("forEachInWindow rethrows a failure that lands together with another item's success", async () => {
  // Items 0 and 1 end in the same turn, 0 first: a loop that only races the tasks still in flight sees 0's
  // success, drops 1 from its set, and never awaits its rejection.
  const { opened, open } = gate();
  const run = forEachInWindow([0, 1, 2, 3], 2, async (item) => {
    if (item > 1) return;
    await opened;
    if (item === 1) throw new Error("item 1 failed");
  });
  open();
  await assert.rejects(run, /item 1 failed/);
});

Deno.test("forEachInWindow keeps at most `window` items in flight and visits every item", async () => {
  let running = 0;
  let most = 0;
  const seen: number[] = [];
  await forEachInWindow([1, 2, 3, 4, 5, 6, 7], 3, async (item) => {
    most = Math.max(most, ++running);
    await tick(item % 3);
    seen.push(item);
    running--;
  });
  assert.deepEqual([most, seen.sort()], [3, [1, 2, 3, 4, 5, 6, 7]]);
});

Deno.test("forEachInWindow starts nothing after a failure and lets the items in flight finish first", async () => {
  const started: number[] = [];
  const finished: number[] = [];
  await assert.rejects(
    forEachInWindow([0, 1, 2, 3, 4, 5, 6], 4, async (item) => {
      started.push(item);
      if (item === 0) throw new Error("block 0 failed");
      await tick(20);
      finished.push(item);
    }),
    /block 0 failed/,
  );
  assert.deepEqual(finished.sort(), started.filter((item) => item !== 0).sort(), "every started item ended");
  assert.ok(started.length < 7, `items were started after the failure: ${started}`);
});

Deno.test("a task that fails while nobody waits fails the next wait for room, and settle()", async () => {
  const group = new TaskGroup(1);
  group.add(Promise.reject(new Error("nobody was waiting")));
  await tick(1);
  assert.equal(group.failed, true);
  assert.equal(group.size, 0);
  await group.room(); // returns at once: the caller is to stop adding tasks
  await assert.rejects(group.settle(), /nobody was waiting/);
});

Deno.test("settle() waits for every task, even after one has failed, and throws the first failure", async () => {
  const group = new TaskGroup();
  const { opened, open } = gate();
  let slowEnded = false;
  group.add(opened.then(() => slowEnded = true));
  group.add(Promise.reject(new Error("first")));
  group.add(tick(1).then(() => Promise.reject(new Error("second"))));
  const settled = group.settle();
  await tick(5);
  open();
  await assert.rejects(settled, /first/);
  assert.equal(slowEnded, true);
});

Deno.test("room() waits while the group is full and returns when a task ends", async () => {
  const group = new TaskGroup(2);
  const { opened, open } = gate();
  group.add(opened);
  group.add(opened);
  let roomy = false;
  const waiting = group.room().then(() => roomy = true);
  await tick(1);
  assert.equal(roomy, false);
  open();
  await waiting;
  assert.equal(group.size, 0);
  await group.settle();
});
