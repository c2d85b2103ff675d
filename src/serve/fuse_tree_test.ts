/** Unit tests of the FUSE tree: layout, metadata files, UTC times, names holding `/`, stable inode numbers. */
import assert from "node:assert/strict";
import type { Version } from "../catalog/catalog.ts";
import { decodeName, encodeName, FuseTree, type VersionLookup } from "./fuse_tree.ts";

function version(uid: string, name: string, changes: Partial<Version> = {}): Version {
  return {
    uid,
    date: "2026-03-04 05:06:07.250000",
    expire: null,
    name,
    snapshotName: "snap",
    size: 2,
    sizeBytes: 8000,
    valid: true,
    protected: false,
    tags: ["a", "b"],
    inProgress: false,
    blockSize: 4096,
    hashFunction: "sha512",
    ...changes,
  };
}

function lookup(versions: Version[]): VersionLookup {
  return {
    list: (name) => Promise.resolve(versions.filter((v) => name === undefined || v.name === name)),
    find: (uid) => Promise.resolve(versions.find((v) => v.uid === uid) ?? null),
  };
}

const text = (node: Awaited<ReturnType<FuseTree["node"]>>) =>
  node?.kind === "file" ? new TextDecoder().decode(node.content) : `(${node?.kind})`;

Deno.test("the tree has backy2's layout, metadata files and symlinks, with UTC version times", async () => {
  const versions = [
    version("u1", "web/01", { expire: "2027-01-02 03:04:05.000000", protected: true }),
    version("u2", "db", { valid: false, tags: [] }),
  ];
  const tree = new FuseTree(lookup(versions), 1000);
  assert.deepEqual((await tree.children("/"))?.map((e) => e.name), ["by_version_uid", "by_name"]);
  assert.deepEqual((await tree.children("/by_version_uid"))?.map((e) => e.name), ["u1", "u2"]);
  assert.deepEqual((await tree.children("/by_name"))?.map((e) => e.name), ["web%2F01", "db"]);
  assert.deepEqual((await tree.children("/by_version_uid/u1"))?.map((e) => e.name), [
    "data",
    "expire",
    "name",
    "protected",
    "snapshot_name",
    "tags",
    "valid",
  ]);
  assert.deepEqual((await tree.children("/by_version_uid/u2"))?.map((e) => e.name), [
    "data",
    "expire",
    "invalid",
    "name",
    "snapshot_name",
    "tags",
  ]);
  const files = async (uid: string) => {
    const names = (await tree.children(`/by_version_uid/${uid}`))!.map((e) => e.name);
    const texts = await Promise.all(names.map(async (name) => text(await tree.node(`/by_version_uid/${uid}/${name}`))));
    return Object.fromEntries(names.map((name, i) => [name, texts[i]]));
  };
  assert.deepEqual(await files("u1"), {
    data: "(data)",
    expire: "2027-01-02T03:04:05",
    name: "web/01",
    protected: "protected",
    snapshot_name: "snap",
    tags: "a,b",
    valid: "valid",
  });
  assert.equal((await files("u2")).invalid, "invalid");
  assert.equal((await files("u2")).expire, "");
  assert.deepEqual(await tree.node("/by_version_uid/u1/data"), {
    kind: "data",
    time: Date.UTC(2026, 2, 4, 5, 6, 7, 250) / 1000,
    size: 8000,
    uid: "u1",
  });
  assert.deepEqual(await tree.node("/by_name/web%2F01/u1"), {
    kind: "link",
    time: Date.UTC(2026, 2, 4, 5, 6, 7, 250) / 1000,
    target: "../../by_version_uid/u1",
  });
  assert.deepEqual(await tree.node("/by_name"), { kind: "dir", time: 1000 });
  for (const missing of ["/by_name/db/u1", "/by_name/web/01", "/by_version_uid/u3", "/x", "/by_version_uid/u1/x"]) {
    assert.equal(await tree.node(missing), null, missing);
  }
});

Deno.test("by_name shows any name as one directory name and reads it back", () => {
  for (const name of ["", ".", "..", "a/b", "50%/x", "%2F", "plain", "a..b"]) {
    const encoded = encodeName(name);
    assert.ok(!encoded.includes("/") && encoded !== "" && encoded !== "." && encoded !== "..", encoded);
    assert.equal(decodeName(encoded), name);
  }
  assert.equal(decodeName("a%2fb"), null, "only the encoder's own spelling is accepted");
  assert.equal(decodeName("a%41"), null);
});

Deno.test("inode numbers are given once per path and the root is 1", () => {
  const tree = new FuseTree(lookup([]), 0);
  assert.equal(tree.inode("/"), 1);
  const a = tree.inode("/by_name");
  assert.equal(tree.inode("/by_version_uid/x"), a + 1);
  assert.equal(tree.inode("/by_name"), a);
  assert.equal(tree.path(a), "/by_name");
  assert.equal(tree.path(999), undefined);
  assert.equal(FuseTree.join("/", "a"), "/a");
  assert.equal(FuseTree.join("/a", "b"), "/a/b");
});
