/** Unit tests of the POSIX path helpers: each agrees with node:path on paths of every shape. */
import * as node from "node:path";
import { assertEquals } from "../output/test_assert.ts";
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
    assertEquals(normalize(path), node.normalize(path), `normalize(${JSON.stringify(path)})`);
    assertEquals(dirname(path), node.dirname(path), `dirname(${JSON.stringify(path)})`);
    assertEquals(basename(path), node.basename(path), `basename(${JSON.stringify(path)})`);
    assertEquals(isAbsolute(path), node.isAbsolute(path), `isAbsolute(${JSON.stringify(path)})`);
  }
});

Deno.test("join and resolve agree with node:path on pairs and triples", () => {
  for (const a of SAMPLES) {
    for (const b of SAMPLES) {
      assertEquals(join(a, b), node.join(a, b), `join(${JSON.stringify(a)}, ${JSON.stringify(b)})`);
      assertEquals(resolve(a, b), node.resolve(a, b), `resolve(${JSON.stringify(a)}, ${JSON.stringify(b)})`);
      assertEquals(join(a, b, "c"), node.join(a, b, "c"));
      assertEquals(resolve("/base", a, b), node.resolve("/base", a, b));
    }
  }
  assertEquals([join(), resolve()], [node.join(), node.resolve()]);
});

Deno.test("homeDirectory prefers $HOME and otherwise reads the passwd entry", () => {
  assertEquals(homeDirectory({ HOME: "/home/x" }), "/home/x");
  const passwd = Deno.readTextFileSync("/etc/passwd").split("\n").map((line) => line.split(":"));
  const mine = passwd.find((fields) => fields[2] === String(Deno.uid()));
  assertEquals(homeDirectory({}), mine ? mine[5] : "/");
});
