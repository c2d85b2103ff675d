/**
 * Unit tests of the libc file IO: parallel positioned reads and writes land where asked, reads stop short
 * only at the end, and failures surface as Deno's own errors.
 */
import assert from "node:assert/strict";
import { RawFile } from "./posix_io.ts";

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
