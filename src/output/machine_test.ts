/** Tests for machine (`-m`) output. */

import { assertEquals } from "./test_assert.ts";
import { renderMachine } from "./machine.ts";

Deno.test("renderMachine joins header and rows with |", () => {
  assertEquals(renderMachine(["a", "b"], [["1", ""], ["x", "y"]], { header: true }), "a|b\n1|\nx|y");
});

Deno.test("renderMachine without header", () => {
  assertEquals(renderMachine(["a", "b"], [["1", "2"]], { header: false }), "1|2");
});

Deno.test("renderMachine with nothing to print is empty", () => {
  assertEquals(renderMachine(["a"], [], { header: false }), "");
  assertEquals(renderMachine(["a", "b"], [], { header: true }), "a|b");
});

Deno.test("renderMachine does not escape |", () => {
  assertEquals(renderMachine(["a"], [["x|y"]], { header: false }), "x|y");
});
