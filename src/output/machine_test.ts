/** Tests for machine (`-m`) output. */

import assert from "node:assert/strict";
import { renderMachine } from "./machine.ts";

Deno.test("renderMachine joins header and rows with |", () => {
  assert.equal(renderMachine(["a", "b"], [["1", ""], ["x", "y"]], { header: true }), "a|b\n1|\nx|y");
});

Deno.test("renderMachine without header", () => {
  assert.equal(renderMachine(["a", "b"], [["1", "2"]], { header: false }), "1|2");
});

Deno.test("renderMachine with nothing to print is empty", () => {
  assert.equal(renderMachine(["a"], [], { header: false }), "");
  assert.equal(renderMachine(["a", "b"], [], { header: true }), "a|b");
});

Deno.test("renderMachine does not escape |", () => {
  assert.equal(renderMachine(["a"], [["x|y"]], { header: false }), "x|y");
});
