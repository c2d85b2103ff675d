/** Tests for the Python string helpers; expected texts come from CPython 3.11. */

import assert from "node:assert/strict";
import { pyRepr, pyStr, pyStrip } from "./pystr.ts";

Deno.test("pyRepr picks quotes like Python", () => {
  assert.equal(pyRepr("foo"), "'foo'");
  assert.equal(pyRepr("it's"), `"it's"`);
  assert.equal(pyRepr(`a"b'c`), `'a"b\\'c'`);
  assert.equal(pyRepr(""), "''");
});

Deno.test("pyRepr escapes non-printable characters", () => {
  assert.equal(pyRepr("tab\there\n\r\\"), "'tab\\there\\n\\r\\\\'");
  assert.equal(
    pyRepr("\x1c\x7f\xad\u0378x\u{1F600}\u{E0001} \xa0"),
    "'\\x1c\\x7f\\xad\\u0378x\u{1F600}\\U000e0001 \\xa0'",
  );
  assert.equal(pyRepr("é\u200b\x85"), "'é\\u200b\\x85'");
});

Deno.test("pyStrip strips Python whitespace only", () => {
  assert.equal(pyStrip(" \t\x1f a b \u3000"), "a b");
  assert.equal(pyStrip("\ufeffx\ufeff"), "\ufeffx\ufeff");
});

Deno.test("pyStr prints integers in full", () => {
  assert.equal(pyStr(147456), "147456");
  assert.equal(pyStr(1e21), "1000000000000000000000");
  assert.equal(pyStr("x"), "x");
});
