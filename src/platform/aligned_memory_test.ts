/** Unit tests of the aligned buffers: page-aligned memory that transfers like any ArrayBuffer and is reused. */
import assert from "node:assert/strict";
import { alignedBuffer, releaseAligned } from "./aligned_memory.ts";

const address = (buffer: ArrayBuffer) => Deno.UnsafePointer.value(Deno.UnsafePointer.of(buffer));

Deno.test("aligned buffers start on a page boundary (from 2 MiB on, a 2 MiB one) and are zeroed", () => {
  for (const size of [4096, 65536, 1000000, 4 << 20, (3 << 20) + 100]) {
    const buffer = alignedBuffer(size);
    assert.equal(buffer.byteLength, size);
    assert.equal(BigInt(address(buffer)) % BigInt(size >= 2 << 20 ? 2 << 20 : 4096), 0n);
    const bytes = new Uint8Array(buffer);
    assert.ok(bytes.every((byte) => byte === 0));
    bytes.fill(0xa5); // every byte is ours to write
  }
});

Deno.test("released buffers are reused for the same size; a transferred one is not taken back", () => {
  const size = 3 * 4096;
  const [a, b] = [alignedBuffer(size), alignedBuffer(size)];
  const moved = b.transfer();
  releaseAligned([a, b]);
  assert.equal(alignedBuffer(size), a);
  const next = alignedBuffer(size);
  assert.notEqual(next, a);
  assert.notEqual(next, b);
  assert.equal(moved.byteLength, size);
});

Deno.test("an aligned buffer goes to a worker and back without a copy", async () => {
  const buffer = alignedBuffer(65536);
  new Uint8Array(buffer)[0] = 7;
  const before = address(buffer);
  const code = "self.onmessage = (e) => { new Uint8Array(e.data)[1] = 9; self.postMessage(e.data, [e.data]); };";
  const url = URL.createObjectURL(new Blob([code], { type: "application/javascript" }));
  const worker = new Worker(url, { type: "module" });
  const back = await new Promise<ArrayBuffer>((resolve) => {
    worker.onmessage = (event) => resolve(event.data);
    worker.postMessage(buffer, [buffer]);
  });
  worker.terminate();
  URL.revokeObjectURL(url);
  assert.equal(buffer.detached, true);
  assert.deepEqual([...new Uint8Array(back, 0, 2)], [7, 9]);
  assert.equal(address(back), before);
});
