/** Unit tests of the compressibility guess that spares random blocks a full zstd compression. */
import assert from "node:assert/strict";
import { looksCompressible } from "./compressibility.ts";

const BLOCK = 4 << 20;

function random(size: number): Uint8Array {
  const data = new Uint8Array(size);
  for (let i = 0; i < size; i += 65536) crypto.getRandomValues(data.subarray(i, Math.min(size, i + 65536)));
  return data;
}

function text(size: number): Uint8Array {
  const words = ["block", "version", "restore", "scrub", "catalog", "store"];
  let line = "";
  while (line.length < size) line += words[line.length % words.length] + " " + line.length + "\n";
  return new TextEncoder().encode(line.slice(0, size));
}

Deno.test("random blocks look incompressible, text and zeros compressible", async () => {
  assert.equal(await looksCompressible(random(BLOCK)), false);
  assert.equal(await looksCompressible(text(BLOCK)), true);
  assert.equal(await looksCompressible(new Uint8Array(BLOCK)), true);
});

Deno.test("a block compressible only in its first or second half still counts as compressible", async () => {
  const firstHalf = random(BLOCK);
  firstHalf.set(text(BLOCK / 2));
  assert.equal(await looksCompressible(firstHalf), true);
  const secondHalf = random(BLOCK);
  secondHalf.set(text(BLOCK / 2), BLOCK / 2);
  assert.equal(await looksCompressible(secondHalf), true);
});

Deno.test("small blocks are always tried in full", async () => {
  assert.equal(await looksCompressible(random(64 << 10)), true);
});
