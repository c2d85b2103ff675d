/** Tests of the ConfigParser-compatible INI reader (expected values checked against Python 3.11). */

import assert from "node:assert/strict";
import { BackyError } from "../util/errors.ts";
import { DEFAULT_SECTION, type IniFile, mergeIni, parseIni } from "./ini.ts";

function valuesOf(file: IniFile, section: string): Record<string, string> {
  return Object.fromEntries([...file.sections.get(section)!].map(([key, value]) => [key, value.value]));
}

function assertConfigError(run: () => unknown, message: string): void {
  assert.throws(run, (error: unknown) => {
    assert.ok(error instanceof BackyError);
    assert.equal(error.message, message);
    assert.equal(error.exitCode, 1);
    assert.equal(error.bare, true);
    return true;
  });
}

const SAMPLE = `[A]
Key1 = v1
key2: v2 = still
  # indented comment
key3 = first
    second

    third
; comment
other=x%%y
ref = %(key1)s/%(Key2)s
  [notsection]
[B c] trailing
x:
`;

Deno.test("parseIni: both separators, first separator splits, keys lower-cased", () => {
  const file = parseIni(SAMPLE, "f.cfg");
  const a = valuesOf(file, "A");
  assert.equal(a.key1, "v1");
  assert.equal(a.key2, "v2 = still");
  assert.equal(a.other, "x%%y");
  assert.deepEqual(valuesOf(file, "B c"), { x: "" });
});

Deno.test("parseIni: comments are skipped, also indented ones inside a value", () => {
  const file = parseIni(SAMPLE, "f.cfg");
  assert.deepEqual(Object.keys(valuesOf(file, "A")), ["key1", "key2", "key3", "other", "ref"]);
});

Deno.test("parseIni: continuation lines join with newlines, keeping inner empty lines", () => {
  const file = parseIni(SAMPLE, "f.cfg");
  assert.equal(valuesOf(file, "A").key3, "first\nsecond\n\nthird");
  assert.equal(valuesOf(file, "A").ref, "%(key1)s/%(Key2)s\n[notsection]");
});

Deno.test("parseIni: trailing empty lines of a value are dropped", () => {
  const file = parseIni("[S]\nk = a\n  b\n\n\nnext = 1\n", "f.cfg");
  assert.deepEqual(valuesOf(file, "S"), { k: "a\nb", next: "1" });
});

Deno.test("parseIni: section names are case-sensitive, CRLF and BOM are accepted", () => {
  const file = parseIni("\uFEFF[s]\r\na = 1\r\n[S]\r\na = 2\r\n", "f.cfg");
  assert.deepEqual(valuesOf(file, "s"), { a: "1" });
  assert.deepEqual(valuesOf(file, "S"), { a: "2" });
});

Deno.test("parseIni: every value records its file and line", () => {
  const file = parseIni("[S]\n\na = 1\n", "/etc/x.cfg");
  assert.deepEqual(file.sections.get("S")!.get("a"), { value: "1", file: "/etc/x.cfg", line: 3 });
});

Deno.test("parseIni: structural errors read like Python's", () => {
  assertConfigError(
    () => parseIni("k = v\n", "f.cfg"),
    "File contains no section headers. file: 'f.cfg', line: 1: 'k = v'",
  );
  assertConfigError(
    () => parseIni("[A]\n[A]\n", "f.cfg"),
    "While reading from 'f.cfg' [line  2]: section 'A' already exists",
  );
  assertConfigError(
    () => parseIni("[A]\nk=1\nK=2\n", "f.cfg"),
    "While reading from 'f.cfg' [line  3]: option 'k' in section 'A' already exists",
  );
  assertConfigError(
    () => parseIni("[A]\nnovalue\n", "f.cfg"),
    "Source contains parsing errors: 'f.cfg' [line  2]: 'novalue'",
  );
});

Deno.test("parseIni: a repeated DEFAULT header is allowed, like Python", () => {
  const file = parseIni("[DEFAULT]\na = 1\n[DEFAULT]\nb = 2\n", "f.cfg");
  assert.deepEqual(valuesOf(file, DEFAULT_SECTION), { a: "1", b: "2" });
});

Deno.test("IniLayered: interpolation of same-section keys and %%", () => {
  const ini = mergeIni([parseIni(SAMPLE, "f.cfg")]);
  assert.equal(ini.get("A", "other")!.value, "x%y");
  assert.equal(ini.get("A", "ref")!.value, "v1/v2 = still\n[notsection]");
  assert.equal(ini.get("A", "KEY1")!.value, "v1");
  assert.equal(ini.get("A", "missing"), undefined);
  assert.equal(ini.get("nosuch", "key1"), undefined);
});

Deno.test("IniLayered: nested references resolve, and later layers feed them", () => {
  const base = parseIni("[S]\ndir = /base\nlog = %(dir)s/log\nfile = %(log)s/x.log\n", "a.cfg");
  const override = parseIni("[S]\ndir = /other\n", "b.cfg");
  const ini = mergeIni([base, override]);
  assert.deepEqual(ini.get("S", "file"), { value: "/other/log/x.log", file: "a.cfg", line: 4 });
});

Deno.test("IniLayered: interpolation errors name file, section and key", () => {
  const ini = mergeIni([parseIni("[A]\nk=%(zz)s\np=50%\nloop=%(loop)s\n", "f.cfg")]);
  assertConfigError(
    () => ini.get("A", "k"),
    "Configuration error in f.cfg, section [A], key k: '%(zz)s' refers to no option of this section.",
  );
  assertConfigError(
    () => ini.get("A", "p"),
    "Configuration error in f.cfg, section [A], key p: '%' must be followed by '%' or '(' (write a literal % as %%).",
  );
  assertConfigError(
    () => ini.get("A", "loop"),
    "Configuration error in f.cfg, section [A], key loop: interpolation nests too deeply (is there a reference loop?).",
  );
});

Deno.test("mergeIni: later layers override per option and keep the rest", () => {
  const first = parseIni("[S]\na = 1\nb = 2\n[T]\nc = 3\n", "first.cfg");
  const second = parseIni("[S]\nb = 20\nd = 40\n", "second.cfg");
  const ini = mergeIni([first, second]);
  assert.deepEqual(ini.get("S", "a"), { value: "1", file: "first.cfg", line: 2 });
  assert.deepEqual(ini.get("S", "b"), { value: "20", file: "second.cfg", line: 2 });
  assert.equal(ini.get("S", "d")!.value, "40");
  assert.equal(ini.get("T", "c")!.value, "3");
  assert.deepEqual(ini.sectionNames(), ["S", "T"]);
  assert.deepEqual(ini.keys("S"), ["a", "b", "d"]);
});

Deno.test("mergeIni: DEFAULT values are inherited but DEFAULT is not a section", () => {
  const ini = mergeIni([parseIni("[DEFAULT]\nroot = /r\n[S]\npath = %(root)s/p\n", "f.cfg")]);
  assert.equal(ini.get("S", "path")!.value, "/r/p");
  assert.equal(ini.get("S", "root")!.value, "/r");
  assert.equal(ini.hasSection("S"), true);
  assert.equal(ini.hasSection(DEFAULT_SECTION), false);
  assert.deepEqual(ini.sectionNames(), ["S"]);
});
