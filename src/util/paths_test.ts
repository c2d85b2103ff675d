/** Unit tests of the POSIX path helpers: each agrees with node:path on paths of every shape. */
import * as node from "node:path";
import assert from "node:assert/strict";
import { basename, dirname, homeDirectory, isAbsolute, join, normalize, resolve } from "./paths.ts";

const SAMPLES = [
  "",
  ".",
  "..",
  "/",
  "//",
  "a",
  "a/",
  "/a",
  "/a/",
  "a/b",
  "/a/b/c",
  "/a//b///c/",
  "a/./b/../c",
  "../a/../../b",
  "/../a",
  "/a/b/../../..",
  "./",
  "../",
  "a/..",
  "a/../",
  "~/x",
  "/var/lib/backy2/data/",
  "//a",
  "a//b",
  "ab/c",
  "/ab/c//",
];

Deno.test("normalize, dirname, basename and isAbsolute agree with node:path", () => {
  for (const path of SAMPLES) {
    assert.deepEqual(normalize(path), node.normalize(path), `normalize(${JSON.stringify(path)})`);
    assert.deepEqual(dirname(path), node.dirname(path), `dirname(${JSON.stringify(path)})`);
    assert.deepEqual(basename(path), node.basename(path), `basename(${JSON.stringify(path)})`);
    assert.deepEqual(isAbsolute(path), node.isAbsolute(path), `isAbsolute(${JSON.stringify(path)})`);
  }
});

Deno.test("join and resolve agree with node:path on pairs and triples", () => {
  for (const a of SAMPLES) {
    for (const b of SAMPLES) {
      assert.deepEqual(join(a, b), node.join(a, b), `join(${JSON.stringify(a)}, ${JSON.stringify(b)})`);
      assert.deepEqual(resolve(a, b), node.resolve(a, b), `resolve(${JSON.stringify(a)}, ${JSON.stringify(b)})`);
      assert.deepEqual(join(a, b, "c"), node.join(a, b, "c"));
      assert.deepEqual(resolve("/base", a, b), node.resolve("/base", a, b));
    }
  }
  assert.deepEqual([join(), resolve()], [node.join(), node.resolve()]);
});

Deno.test("homeDirectory prefers $HOME and otherwise reads the passwd entry", () => {
  assert.equal(homeDirectory({ HOME: "/home/x" }), "/home/x");
  const passwd = Deno.readTextFileSync("/etc/passwd").split("\n").map((line) => line.split(":"));
  const mine = passwd.find((fields) => fields[2] === String(Deno.uid()));
  assert.deepEqual(homeDirectory({}), mine ? mine[5] : "/");
});
