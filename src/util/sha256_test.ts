/** SHA-256 against FIPS 180-4 examples and node:crypto on random data of awkward lengths. */
import { createHash } from "node:crypto";
import assert from "node:assert/strict";
import { sha256 } from "./sha256.ts";

const hex = (bytes: Uint8Array) => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");

Deno.test("sha256 of the FIPS 180-4 examples", () => {
  assert.equal(
    hex(sha256(new TextEncoder().encode("abc"))),
    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
  );
  assert.equal(hex(sha256(new Uint8Array(0))), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
});

Deno.test("sha256 agrees with node:crypto for lengths around block boundaries", () => {
  for (const length of [1, 55, 56, 63, 64, 65, 119, 120, 4096, 4097]) {
    const data = crypto.getRandomValues(new Uint8Array(length));
    assert.deepEqual(hex(sha256(data)), createHash("sha256").update(data).digest("hex"), `length ${length}`);
  }
});
