/** Tests of hints parsing and of which blocks hints mark to read or to record as sparse. */
import assert from "node:assert/strict";
import { BackyError } from "../util/errors.ts";
import { type Hint, HINT_READ, HINT_SPARSE, markHintedBlocks, parseHints } from "./hints.ts";

const BS = 1024;
const extent = (offset: number, length: number, exists: boolean): Hint => ({ offset, length, exists });

Deno.test("markHintedBlocks: the reference's example of blocks touched by extents", () => {
  const hints = [[10, 100], [1024, 2048], [4096, 3000], [14000, 10], [16383, 1025], [8657, 885]]
    .map(([offset, length]) => extent(offset, length, true));
  const marks = markHintedBlocks(hints, 17 * BS, BS, 17);
  const read = [...marks.keys()].filter((id) => marks[id] === HINT_READ);
  assert.deepEqual(read, [0, 1, 2, 4, 5, 6, 8, 9, 13, 15, 16]);
});

Deno.test("markHintedBlocks: a block a false extent covers completely is sparse", () => {
  const marks = markHintedBlocks([extent(BS, 2 * BS, false)], 4 * BS, BS, 4);
  assert.deepEqual([...marks], [0, HINT_SPARSE, HINT_SPARSE, 0]);
});

Deno.test("markHintedBlocks: a block a false extent covers only in part is read, not sparse", () => {
  const marks = markHintedBlocks([extent(BS + 100, 100, false)], 4 * BS, BS, 4);
  assert.deepEqual([...marks], [0, HINT_READ, 0, 0]);
  const straddling = markHintedBlocks([extent(BS / 2, 2 * BS, false)], 4 * BS, BS, 4);
  assert.deepEqual([...straddling], [HINT_READ, HINT_SPARSE, HINT_READ, 0]);
});

Deno.test("markHintedBlocks: false extents that together cover a block make it sparse", () => {
  const halves = [extent(BS + 512, 512, false), extent(BS, 600, false)];
  assert.deepEqual([...markHintedBlocks(halves, 4 * BS, BS, 4)], [0, HINT_SPARSE, 0, 0]);
  const gap = [extent(BS + 513, 511, false), extent(BS, 512, false)];
  assert.deepEqual([...markHintedBlocks(gap, 4 * BS, BS, 4)], [0, HINT_READ, 0, 0], "one byte is not covered");
});

Deno.test("markHintedBlocks: the short last block is covered by an extent that reaches the end of the source", () => {
  const size = 3 * BS + 100;
  assert.deepEqual([...markHintedBlocks([extent(3 * BS, 100, false)], size, BS, 4)], [0, 0, 0, HINT_SPARSE]);
  assert.deepEqual([...markHintedBlocks([extent(3 * BS, 99, false)], size, BS, 4)], [0, 0, 0, HINT_READ]);
});

Deno.test("markHintedBlocks: a true extent wins over a false one", () => {
  const marks = markHintedBlocks([extent(0, 2 * BS, false), extent(BS, 1, true)], 2 * BS, BS, 2);
  assert.deepEqual([...marks], [HINT_SPARSE, HINT_READ]);
});

Deno.test("markHintedBlocks: hints beyond the source are refused", () => {
  assert.throws(
    () => markHintedBlocks([extent(0, 2 * BS + 1, true)], 2 * BS, BS, 2),
    (error: unknown) => error instanceof BackyError && error.message === "Hints have higher offsets than source file.",
  );
});

const existsOf = (value: string) => parseHints(`[{"offset": 0, "length": 1, "exists": ${value}}]`, "h.json")[0].exists;

Deno.test('parseHints: exists is false for "false" and every JSON value Python counts as false', () => {
  for (const value of ['"false"', "false", "0", '""', "null", "[]", "{}", "0.0"]) {
    assert.equal(existsOf(value), false, value);
  }
  for (const value of ['"true"', "true"]) assert.equal(existsOf(value), true, value);
});

Deno.test("parseHints: any other exists value is an error naming the entry", () => {
  for (const value of ['"maybe"', "2", '"yes"', '"False"', "[0]", '{"a": 1}']) {
    assert.throws(() => existsOf(value), (error: unknown) => {
      assert.ok(error instanceof BackyError);
      assert.equal(
        error.message,
        `Hints from h.json, entry 0: exists must be true or false ("true"/"false", 1/0), not ` +
          `${value.replace(/ /g, "")}.`,
      );
      return true;
    });
  }
});

Deno.test("parseHints: a line that is not JSON is reported without echoing it", () => {
  for (const line of ["\u0001\u0002\u00ff secret", "this is not JSON", "[xxxxxxxxxxxxxxxxxxxxxxxxxx"]) {
    assert.throws(() => parseHints(line, "h.json"), (error: unknown) => {
      assert.ok(error instanceof BackyError);
      assert.ok(error.message.startsWith("Hints from h.json are not valid JSON"), error.message);
      assert.ok(!error.message.includes("secret") && !error.message.includes("xxx"), error.message);
      // deno-lint-ignore no-control-regex
      assert.ok(!/[\u0000-\u001f\u007f-\u00ff]/.test(error.message), error.message);
      return true;
    });
  }
});
