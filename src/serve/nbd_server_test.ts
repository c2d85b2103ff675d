/**
 * Protocol tests of the NBD server with a hand-written client over TCP: the paths real clients of today do
 * not take (NBD_OPT_EXPORT_NAME, simple replies, the 124 zero bytes), option errors, refused writes, bounds,
 * a failed read, and the structured paths byte by byte (INFO replies, BLOCK_STATUS, OFFSET_DATA, ERROR).
 */
import assert from "node:assert/strict";
import type { Version } from "../catalog/catalog.ts";
import { Level, Logger } from "../log/logger.ts";
import type { Image } from "../engine/block_reader.ts";
import { NbdServer } from "./nbd_server.ts";
import { ClosedError, Fields, IHAVEOPT, Message, NBDMAGIC, Wire } from "./nbd_protocol.ts";
import { NotServableError, type VersionSource } from "./served_versions.ts";

const SIZE = 8192;

class QuietLog extends Logger {
  readonly lines: string[] = [];
  constructor() {
    super({ verbose: false, machineOutput: true });
  }
  override log(_level: Level, message: string): void {
    this.lines.push(message);
  }
}

/** An image whose first half is data and second half a hole; reads of [1000, 1100) fail. */
function memoryImage(data: Uint8Array): Image {
  return {
    uid: "v1",
    sizeBytes: data.length,
    read: (offset, length) =>
      offset < 1100 && offset + length > 1000
        ? Promise.reject(new Error("bad block"))
        : Promise.resolve(data.slice(offset, offset + length)),
    extents: (offset, length) => {
      const half = data.length / 2;
      if (offset >= half) return [{ length, zero: true }];
      const first = Math.min(length, half - offset);
      return first === length ? [{ length, zero: false }] : [{ length: first, zero: false }, {
        length: length - first,
        zero: true,
      }];
    },
    close: () => {},
  };
}

async function withServer(fn: (client: Wire, data: Uint8Array, log: QuietLog) => Promise<void>): Promise<void> {
  const data = crypto.getRandomValues(new Uint8Array(SIZE)).fill(0, SIZE / 2);
  const version = { uid: "v1", name: "vm", date: "2026-01-01 00:00:00.000000", sizeBytes: SIZE } as Version;
  const source: VersionSource = {
    options: { cow: false, cacheDir: "/tmp" },
    list: () => Promise.resolve([version]),
    find: (uid) => Promise.resolve(uid === "v1" ? version : null),
    open: (uid) => {
      if (uid !== "v1") return Promise.reject(new NotServableError("unknown", `Version ${uid} not found.`));
      return Promise.resolve(memoryImage(data));
    },
  };
  const log = new QuietLog();
  const server = await NbdServer.listen({ transport: "tcp", hostname: "127.0.0.1", port: 0 }, source, null, log);
  const serving = server.serve();
  const port = Number(/:(\d+)\//.exec(server.urlOf(""))![1]);
  const client = new Wire(await Deno.connect({ hostname: "127.0.0.1", port }));
  try {
    await fn(client, data, log);
  } finally {
    client.close();
    await server.close();
    await serving;
  }
}

async function greet(client: Wire, clientFlags: number): Promise<void> {
  const hello = new Fields(await client.read(18));
  assert.deepEqual([hello.u64(), hello.u64(), hello.u16()], [NBDMAGIC, IHAVEOPT, 3]);
  await client.send(new Message().u32(clientFlags).toBytes());
}

function option(code: number, data: Uint8Array = new Uint8Array(0)): Uint8Array {
  return new Message().u64(IHAVEOPT).u32(code).u32(data.length).bytes(data).toBytes();
}

/** One option reply: [option, type, data]. */
async function optionReply(client: Wire): Promise<[number, number, Uint8Array]> {
  const header = new Fields(await client.read(20));
  assert.equal(header.u64(), 0x3e889045565a9n);
  const [code, type, length] = [header.u32(), header.u32(), header.u32()];
  return [code, type, await client.read(length)];
}

function request(type: number, cookie: number, offset: number, length: number, flags = 0): Uint8Array {
  return new Message().u32(0x25609513).u16(flags).u16(type).u64(cookie).u64(offset).u32(length).toBytes();
}

/** A simple reply: [error, cookie]. */
async function simpleReply(client: Wire): Promise<[number, number]> {
  const reply = new Fields(await client.read(16));
  assert.equal(reply.u32(), 0x67446698);
  return [reply.u32(), Number(reply.u64())];
}

/** A structured reply chunk: [flags, type, cookie, payload]. */
async function chunk(client: Wire): Promise<[number, number, number, Uint8Array]> {
  const header = new Fields(await client.read(20));
  assert.equal(header.u32(), 0x668e33ef);
  const [flags, type, cookie, length] = [header.u16(), header.u16(), Number(header.u64()), header.u32()];
  return [flags, type, cookie, await client.read(length)];
}

const ERR = 0x80000000;

Deno.test("NBD_OPT_EXPORT_NAME with simple replies: size, flags and zeros; reads, bounds, refused writes, DISC", async () => {
  await withServer(async (client, data) => {
    await greet(client, 1);
    await client.send(option(3, new Uint8Array(1)));
    assert.deepEqual((await optionReply(client)).slice(0, 2), [3, ERR + 3], "LIST with data is invalid");
    await client.send(option(99));
    assert.deepEqual((await optionReply(client)).slice(0, 2), [99, ERR + 1], "an unknown option is unsupported");
    await client.send(option(3));
    const [, server] = await optionReply(client);
    assert.equal(server, 2);
    assert.deepEqual((await optionReply(client)).slice(0, 2), [3, 1]);
    await client.send(option(1, new TextEncoder().encode("v1")));
    const start = new Fields(await client.read(8 + 2 + 124));
    assert.equal(start.u64(), BigInt(SIZE));
    assert.equal(start.u16(), 0b1_0000_0111, "HAS_FLAGS, READ_ONLY, SEND_FLUSH, CAN_MULTI_CONN");
    assert.ok(start.bytes(124).every((b) => b === 0));

    await client.send(request(0, 7, 100, 50));
    assert.deepEqual(await simpleReply(client), [0, 7]);
    assert.deepEqual(await client.read(50), data.subarray(100, 150));
    await client.send(request(0, 8, SIZE - 10, 11));
    assert.deepEqual(await simpleReply(client), [22, 8], "a read past the end is EINVAL");
    await client.send(request(1, 9, 0, 4), new Uint8Array(4));
    assert.deepEqual(await simpleReply(client), [1, 9], "a write to a read-only export is EPERM");
    await client.send(request(0, 10, 990, 20));
    assert.deepEqual(await simpleReply(client), [5, 10], "a failed read is EIO, without data");
    await client.send(request(3, 11, 0, 0));
    assert.deepEqual(await simpleReply(client), [0, 11], "FLUSH");
    await client.send(request(2, 12, 0, 0));
    await assert.rejects(client.read(1), ClosedError, "DISC closes the connection");
  });
});

Deno.test("NBD_OPT_GO with structured replies and base:allocation: INFO, BLOCK_STATUS, OFFSET_DATA, ERROR", async () => {
  await withServer(async (client, data, log) => {
    await greet(client, 3);
    const utf8 = (text: string) => new TextEncoder().encode(text);
    await client.send(option(10, new Message().string("v1").u32(1).string("base:allocation").toBytes()));
    assert.deepEqual((await optionReply(client)).slice(0, 2), [10, ERR + 3], "meta contexts need structured replies");
    await client.send(option(8));
    assert.deepEqual((await optionReply(client)).slice(0, 2), [8, 1]);
    await client.send(option(10, new Message().string("v1").u32(1).string("base:allocation").toBytes()));
    const [, type, context] = await optionReply(client);
    assert.equal(type, 4);
    assert.deepEqual(context, new Message().u32(1).bytes(utf8("base:allocation")).toBytes());
    assert.deepEqual((await optionReply(client)).slice(0, 2), [10, 1]);
    await client.send(option(7, new Message().string("nope").u16(0).toBytes()));
    assert.deepEqual((await optionReply(client)).slice(0, 2), [7, ERR + 6], "an unknown export");
    await client.send(option(7, new Message().string("v1").u16(1).u16(3).toBytes()));
    const [, exportType, exportInfo] = await optionReply(client);
    assert.equal(exportType, 3);
    assert.deepEqual(exportInfo, new Message().u16(0).u64(SIZE).u16(0b1_1000_0111).toBytes(), "with SEND_DF");
    const [, , blockSizes] = await optionReply(client);
    assert.deepEqual(blockSizes, new Message().u16(3).u32(1).u32(4096).u32(32 * 1048576).toBytes());
    assert.deepEqual((await optionReply(client)).slice(0, 2), [7, 1]);

    await client.send(request(7, 1, 0, SIZE));
    const [flags, statusType, cookie, status] = await chunk(client);
    assert.deepEqual([flags, statusType, cookie], [1, 5, 1]);
    assert.deepEqual(status, new Message().u32(1).u32(SIZE / 2).u32(0).u32(SIZE / 2).u32(3).toBytes());
    await client.send(request(7, 2, 0, SIZE, 1 << 3));
    assert.deepEqual((await chunk(client))[3], new Message().u32(1).u32(SIZE / 2).u32(0).toBytes(), "REQ_ONE");
    await client.send(request(0, 3, 2000, 100));
    const [readFlags, readType, , read] = await chunk(client);
    assert.deepEqual([readFlags, readType], [1, 1]);
    assert.deepEqual(read, new Message().u64(2000).bytes(data.subarray(2000, 2100)).toBytes());
    await client.send(request(0, 4, 1050, 10));
    const [errorFlags, errorType, , error] = await chunk(client);
    assert.deepEqual([errorFlags, errorType, new Fields(error).u32()], [1, 0x8001, 5]);
    assert.ok(log.lines.some((line) => line.includes("bad block")), "an unexpected read failure is logged");
  });
});
