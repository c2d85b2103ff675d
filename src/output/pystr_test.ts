/** Tests for the Python string helpers; expected texts come from CPython 3.11. */

import { assertEquals } from "./test_assert.ts";
import { pyRepr, pyStr, pyStrip } from "./pystr.ts";

Deno.test("pyRepr picks quotes like Python", () => {
  assertEquals(pyRepr("foo"), "'foo'");
  assertEquals(pyRepr("it's"), `"it's"`);
  assertEquals(pyRepr(`a"b'c`), `'a"b\\'c'`);
  assertEquals(pyRepr(""), "''");
});

Deno.test("pyRepr escapes non-printable characters", () => {
  assertEquals(pyRepr("tab\there\n\r\\"), "'tab\\there\\n\\r\\\\'");
  assertEquals(
    pyRepr("\x1c\x7f\xad\u0378x\u{1F600}\u{E0001} \xa0"),
    "'\\x1c\\x7f\\xad\\u0378x\u{1F600}\\U000e0001 \\xa0'",
  );
  assertEquals(pyRepr("é\u200b\x85"), "'é\\u200b\\x85'");
});

Deno.test("pyStrip strips Python whitespace only", () => {
  assertEquals(pyStrip(" \t\x1f a b \u3000"), "a b");
  assertEquals(pyStrip("\ufeffx\ufeff"), "\ufeffx\ufeff");
});

Deno.test("pyStr prints integers in full", () => {
  assertEquals(pyStr(147456), "147456");
  assertEquals(pyStr(1e21), "1000000000000000000000");
  assertEquals(pyStr("x"), "x");
});
