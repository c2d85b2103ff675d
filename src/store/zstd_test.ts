/**
 * Unit tests of the zstd frames: libzstd and node:zlib make frames the other reads, that record their content
 * size, that the `zstd` command line tool decodes (and whose frames we decode), and both refuse a frame that
 * decodes to more than the room given or is damaged.
 */
import assert from "node:assert/strict";
import { libzstd } from "../platform/libzstd.ts";
import { compressBound, frameContentSize, nodeZstd, type ZstdCalls, ZstdError } from "./zstd.ts";

const lib = libzstd();
const IMPLEMENTATIONS: [string, ZstdCalls][] = [["node:zlib", nodeZstd]];
if (lib) IMPLEMENTATIONS.push(["libzstd", lib]);

function sample(size: number): Uint8Array {
  const data = new Uint8Array(size);
  for (let i = 0; i < size; i++) data[i] = (i % 251) ^ ((i >> 12) & 0xff);
  return data;
}

Deno.test("libzstd loads here (Debian libzstd1)", () => {
  assert.ok(lib !== null, "libzstd.so.1 is installed on the build machines");
});

Deno.test("each implementation's frames declare their size and decode in both", async () => {
  for (const size of [1, 300, 70000, 1 << 20]) {
    const plain = sample(size);
    for (const [name, maker] of IMPLEMENTATIONS) {
      const frame = await maker.compress(plain, 3);
      assert.ok(frame.length < compressBound(size), `${name} ${size}`);
      assert.equal(frameContentSize(frame), size, `${name} declares the content size of ${size} bytes`);
      for (const [other, reader] of IMPLEMENTATIONS) {
        const into = new Uint8Array(size + 10);
        const plainAgain = await reader.decompress(frame, into);
        assert.deepEqual(plainAgain, plain, `${name} → ${other}, ${size} bytes`);
        assert.equal(plainAgain.buffer, into.buffer, `${other} decodes into the given buffer`);
      }
    }
  }
});

Deno.test("a frame larger than the room given, cut short or not a frame is a ZstdError", async () => {
  // (Damage inside a frame without a content checksum may decode to other bytes of the declared size; the
  // block checksums that restore and scrub verify catch that.)
  const frame = await nodeZstd.compress(sample(100000), 1);
  for (const [name, reader] of IMPLEMENTATIONS) {
    await assert.rejects(reader.decompress(frame, new Uint8Array(99999)), ZstdError, `${name}: too small`);
    await assert.rejects(reader.decompress(frame.subarray(0, 200), new Uint8Array(100000)), ZstdError, name);
    await assert.rejects(reader.decompress(new Uint8Array([1, 2, 3, 4, 5, 6]), new Uint8Array(10)), ZstdError, name);
  }
});

Deno.test("frameContentSize reads the header only and refuses what is not a sized frame", () => {
  assert.equal(frameContentSize(new Uint8Array([0x28, 0xb5, 0x2f, 0xfd, 0x20, 0x07, 0])), 7);
  assert.equal(frameContentSize(new Uint8Array([0x28, 0xb5, 0x2f, 0xfd, 0x60, 0x00, 0x01, 0])), 256 + 256);
  assert.equal(frameContentSize(new Uint8Array([0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x58, 0])), null, "no size field");
  assert.equal(frameContentSize(new Uint8Array([1, 2, 3, 4, 5, 6, 7])), null, "no magic number");
  assert.equal(frameContentSize(new Uint8Array([0x28, 0xb5, 0x2f, 0xfd, 0x80])), null, "cut short");
});

/** Runs the `zstd` tool with `args` on `input`; returns its stdout. */
async function zstdTool(args: string[], input: Uint8Array): Promise<Uint8Array> {
  const child = new Deno.Command("zstd", { args, stdin: "piped", stdout: "piped", stderr: "piped" }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(input);
  await writer.close();
  const { code, stdout, stderr } = await child.output();
  assert.equal(code, 0, new TextDecoder().decode(stderr));
  return stdout;
}

Deno.test("frames are the zstd tool's: it decodes ours and we decode its", async () => {
  const plain = sample(3 << 20);
  for (const [name, codec] of IMPLEMENTATIONS) {
    const ours = await codec.compress(plain, 3);
    assert.deepEqual(await zstdTool(["-d", "-c", "-q"], ours), plain, `zstd -d reads ${name}'s frame`);
    const theirs = await zstdTool(["-3", "-c", "-q"], plain);
    assert.deepEqual(await codec.decompress(theirs, new Uint8Array(plain.length)), plain, `${name} reads zstd's`);
  }
});
