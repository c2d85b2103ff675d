/**
 * Unit tests of the libc file IO: parallel positioned reads and writes land where asked, reads stop short
 * only at the end, and failures surface as Deno's own errors.
 */
import assert from "node:assert/strict";
import { DIRECT_ALIGNMENT, directAligned, RawFile, syncPath } from "./posix_io.ts";
import { alignedBuffer } from "./aligned_memory.ts";

function pattern(length: number, seed: number): Uint8Array<ArrayBuffer> {
  return Uint8Array.from({ length }, (_, i) => (i * 31 + seed) & 0xff);
}

Deno.test("parallel writes at offsets and parallel reads give back the same bytes; reads end short at EOF", async () => {
  const dir = Deno.makeTempDirSync();
  const path = `${dir}/f`;
  const blocks = [0, 1, 2, 3].map((i) => pattern(65536, i));
  const writer = RawFile.open(path, "createNew");
  await Promise.all(blocks.map((block, i) => writer.writeAt(i * 65536, block)));
  writer.close();
  assert.deepEqual(Deno.statSync(path).size, 4 * 65536);

  const reader = RawFile.open(path, "read");
  assert.deepEqual(reader.size(), 4 * 65536);
  const back = [0, 1, 2, 3].map(() => new Uint8Array(65536));
  const lengths = await Promise.all(back.map((into, i) => reader.readAt(i * 65536, into)));
  assert.deepEqual(lengths, [65536, 65536, 65536, 65536]);
  back.forEach((into, i) => assert.deepEqual(into, blocks[i]));
  const tail = new Uint8Array(1000);
  assert.equal(await reader.readAt(4 * 65536 - 10, tail), 10);
  assert.deepEqual(tail.subarray(0, 10), blocks[3].subarray(65526));
  reader.close();
  Deno.removeSync(dir, { recursive: true });
});

Deno.test("replace truncates; opening a missing or existing path fails with Deno's errors", () => {
  const dir = Deno.makeTempDirSync();
  const path = `${dir}/f`;
  Deno.writeFileSync(path, pattern(5000, 7));
  RawFile.open(path, "replace").close();
  assert.equal(Deno.statSync(path).size, 0);
  assert.throws(() => RawFile.open(`${dir}/missing`, "read"), Deno.errors.NotFound);
  assert.throws(() => RawFile.open(path, "createNew"), Deno.errors.AlreadyExists);
  assert.throws(() => RawFile.open(`${dir}/no/such/dir`, "replace"), Deno.errors.NotFound);
  Deno.removeSync(dir, { recursive: true });
});

Deno.test("a failing pread is reported with the system's error (reading a directory)", async () => {
  const dir = Deno.makeTempDirSync();
  const file = RawFile.open(dir, "read"); // Linux opens directories read-only; reading them fails with EISDIR
  await assert.rejects(() => file.readAt(0, new Uint8Array(16)), Deno.errors.IsADirectory);
  file.close();
  Deno.removeSync(dir, { recursive: true });
});

Deno.test("status() tells a regular file and its size from a directory, a FIFO and a device", async () => {
  const dir = Deno.makeTempDirSync();
  Deno.writeFileSync(`${dir}/f`, pattern(5000, 1));
  const made = await new Deno.Command("mkfifo", { args: [`${dir}/fifo`] }).output();
  assert.equal(made.success, true);
  const statusOf = (path: string) => {
    // A FIFO opened for reading without O_NONBLOCK would wait here for a writer forever.
    const file = RawFile.open(path, "readNonBlocking");
    try {
      return file.status();
    } finally {
      file.close();
    }
  };
  assert.deepEqual(statusOf(`${dir}/f`), { kind: "file", size: 5000 });
  assert.equal(statusOf(dir).kind, "directory");
  assert.equal(statusOf(`${dir}/fifo`).kind, "fifo");
  assert.equal(statusOf("/dev/zero").kind, "charDevice");
  Deno.removeSync(dir, { recursive: true });
});

Deno.test("syncData() makes a written file durable and fails once the file is closed", async () => {
  const dir = Deno.makeTempDirSync();
  const file = RawFile.open(`${dir}/f`, "createNew");
  await file.writeAt(0, pattern(4096, 3));
  await file.syncData();
  file.close();
  await assert.rejects(() => file.syncData(), Error);
  Deno.removeSync(dir, { recursive: true });
});

Deno.test("directAligned wants an aligned address, length and offset", () => {
  const aligned = new Uint8Array(alignedBuffer(4 * DIRECT_ALIGNMENT));
  assert.equal(directAligned(aligned), true);
  assert.equal(directAligned(aligned, DIRECT_ALIGNMENT), true);
  assert.equal(directAligned(aligned, 512), false);
  assert.equal(directAligned(aligned.subarray(0, 1000)), false);
  assert.equal(directAligned(aligned.subarray(16, 16 + DIRECT_ALIGNMENT)), false);
  assert.equal(directAligned(aligned.subarray(0, 0)), false);
});

Deno.test("direct writes (a new file, and a second descriptor of an open one) read back through the page cache", async () => {
  const dir = Deno.makeTempDirSync({ dir: Deno.cwd() }); // tmpfs would refuse direct IO; the work tree is a disk
  const block = new Uint8Array(alignedBuffer(2 * DIRECT_ALIGNMENT));
  block.set(pattern(block.length, 5));
  const direct = RawFile.openDirect(`${dir}/new`);
  assert.ok(direct, "open for direct IO");
  await direct.writeAt(0, block);
  direct.close();
  assert.deepEqual(Deno.readFileSync(`${dir}/new`), block);

  const file = RawFile.open(`${dir}/open`, "createNew");
  await file.writeAt(0, pattern(100, 1));
  const second = file.reopenDirect();
  assert.ok(second, "a second descriptor for direct IO");
  await second.writeAt(DIRECT_ALIGNMENT, block);
  await file.syncData();
  second.close();
  file.close();
  const back = Deno.readFileSync(`${dir}/open`);
  assert.deepEqual([back.length, back.subarray(0, 100)], [3 * DIRECT_ALIGNMENT, pattern(100, 1)]);
  assert.deepEqual(back.subarray(DIRECT_ALIGNMENT), block);
  Deno.removeSync(dir, { recursive: true });
});

Deno.test("syncPath makes a file's data and a directory's entries durable; a missing path is NotFound", async () => {
  const dir = Deno.makeTempDirSync();
  Deno.writeFileSync(`${dir}/f`, pattern(5000, 2));
  await syncPath(`${dir}/f`, "file");
  await syncPath(dir, "directory");
  await assert.rejects(() => syncPath(`${dir}/missing`, "file"), Deno.errors.NotFound);
  Deno.removeSync(dir, { recursive: true });
});
